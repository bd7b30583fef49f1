/**
 * The elasticity suite with the agent on the Kubernetes driver: every cell a Pod on a
 * private Kubernetes tier (real kube-apiserver, scheduler, controller manager; the
 * node shim runs the pods' cell processes), the agent under its own RBAC identity.
 *
 * Split children get 30 s to become ready instead of the demo's 10 s: a pod takes more
 * hops (create, schedule, the shim's fork and status writes, the watch), and the tier's
 * own processes share the CPU. On a 2-CPU machine under load (load average 10) children
 * took over 10 s, the splits rolled back and no second split came within the demo's 45 s.
 */
import { describeElasticity } from './elasticity-suite';

describeElasticity('kubernetes', { readinessTimeoutSeconds: 30 });
