import type { z } from 'zod';
import { FleetError, type FieldIssue } from './errors';

/** Turns zod issues into `path: message` pairs; the path is dotted (`spec.topology.grid.cols`), `(root)` for the value itself. */
export function zodIssues(error: z.ZodError, prefix?: string): FieldIssue[] {
  return error.issues.map((issue) => {
    // An unknown key is reported on its parent; name the key itself, which is what the user must delete.
    const keys = issue.code === 'unrecognized_keys' ? issue.keys.slice(0, 1) : [];
    const parts = [...(prefix ? [prefix] : []), ...issue.path.map((p) => String(p)), ...keys];
    return { path: parts.length > 0 ? parts.join('.') : '(root)', message: issue.message };
  });
}

/**
 * Validates `value` at a boundary. Throws INVALID_ARGUMENT naming every bad field;
 * `what` says which boundary ("request body", "message cell-metrics", "doc worlds/a").
 */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
  prefix?: string,
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = zodIssues(result.error, prefix);
  const summary = issues.map((i) => `${i.path}: ${i.message}`).join('; ');
  throw new FleetError('INVALID_ARGUMENT', `invalid ${what}: ${summary}`, { issues });
}
