export { ComplexQueue, type QueueOptions, type QueueState } from './complex-queue.js';
