export * from './usage';
export * from './cost';
export * from './export';
export * from './manifest';
export * from './config';
