export * from './clock';
export * from './ids';
export * from './interfaces';
export * from './messages';
export * from './metrics';
export * from './topology';
