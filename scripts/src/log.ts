/** The part of a pino logger the small local servers use (tests pass a plain object). */
export interface FieldLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}
