/**
 * The elasticity suite with the agent on the Kubernetes driver: every cell a Pod on a
 * private Kubernetes tier (real kube-apiserver, scheduler, controller manager; the
 * node shim runs the pods' cell processes), the agent under its own RBAC identity.
 */
import { describeElasticity } from './elasticity-suite';

describeElasticity('kubernetes');
