import { describeElasticity } from './elasticity-suite';

describeElasticity('process');
