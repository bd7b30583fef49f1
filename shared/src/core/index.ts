export * from './errors';
export * from './timing';
export * from './validation';
