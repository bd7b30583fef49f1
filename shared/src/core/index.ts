export * from './canonical';
export * from './errors';
export * from './timing';
export * from './validation';
