export * from './events';
export * from './geometry';
export * from './model';
export * from './world';
export * from './apply';
