export {
  type ApiToken,
  type Config,
  ConfigError,
  type DatabaseConnection,
  DEFAULTS,
  isLoopback,
  loadConfig,
  maskUrl,
  parseUrl,
  ROLES,
  type Role,
  type WireConfig,
  type WireUser,
} from './config.js';
export { type ConfigDescription, describeConfig } from './describe.js';
