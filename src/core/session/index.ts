export { checkSessionName, MAX_SESSION_NAME } from './checks.js';
export { CollectingSink, type ExecuteResult } from './result.js';
export {
  type ExecuteOptions,
  mayLeaveState,
  type Placement,
  Session,
  type SessionDeps,
  type SessionLimits,
  type Statement,
  type TransactionResult,
} from './session.js';
