export * from './operations-plan';
export * from './operations';
export * from './reconcile';
export * from './scaling';
export * from './sessions';
export * from './tick';
export * from './manual';
