export { type CappedResult, cappedQuery } from './capped-query.js';
export {
  type ExecuteOptions,
  type ExecuteResult,
  Executor,
  type ExecutorDeps,
  type ExecutorOptions,
  type ObservationSink,
  type Statement,
  type TransactionResult,
} from './executor.js';
