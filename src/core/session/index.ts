export { CollectingSink, type ExecuteResult } from './result.js';
export {
  type ExecuteOptions,
  Session,
  type SessionDeps,
  type SessionLimits,
  type Statement,
  type TransactionResult,
} from './session.js';
