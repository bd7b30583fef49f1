export { run as runFfctl, buildProgram } from './ffctl/main';
export { startStack, readRunningStack, type RunningStack, type StackOptions } from './stack/stack';
export { StackFileSchema, stackPorts, type StackFile } from './stack/config';
