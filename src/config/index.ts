export {
  type ApiToken,
  type Config,
  ConfigError,
  coreSettings,
  type DatabaseConnection,
  DEFAULTS,
  databaseTargets,
  isLoopback,
  loadConfig,
  maskUrl,
  parseUrl,
  ROLES,
  type Role,
  type TargetConnections,
  withAdmin,
} from './config.js';
export { type ConfigDescription, describeConfig } from './describe.js';
