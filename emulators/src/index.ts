export * from './process-group';
export * from './google-emulators';
export * from './ports';
export * from './kube';
export * from './redis';
