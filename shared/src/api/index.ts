export * from './auth';
export * from './types';
