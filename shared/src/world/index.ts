export * from './events';
export * from './geometry';
export * from './model';
export * from './load-history';
export * from './world';
export * from './apply';
export * from './generation';
