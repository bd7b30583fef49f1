export * from './cluster';
export * from './kubeconfig';
export * from './node-shim';
export * from './vcluster-runner';
export * from './cell-runner';
