export { Agent, type AgentOptions } from './agent';
export { ProcessDriver, type ProcessDriverOptions } from './drivers/process-driver';
export { CellRuntime, type CellRuntimeOptions } from './cell/runtime';
