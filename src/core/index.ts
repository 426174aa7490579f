export { ErrorCode, fromPgError, isConnectionError, isPoolpilotError, PoolpilotError } from './errors.js';
export { type Logger, silentLogger } from './logger.js';
export { Poolpilot, type PoolpilotOptions, SERVICE_NAME, type ServiceInfo, VERSION } from './poolpilot.js';
