export * from './manifests';
export * from './plan';
export * from './tenancy';
export * from './requests';
