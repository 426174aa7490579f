export { DEMO_ROWS, type DemoTable, seedDemoData } from './demo-data.js';
export {
  APP_DATABASE,
  DATA_ROLE,
  type EmbeddedDatabase,
  type EmbeddedOptions,
  startEmbeddedDatabase,
} from './embedded-database.js';
export { freePort } from './free-port.js';
export {
  type OsUser,
  PostgresServer,
  reachableBy,
  resolveDataRoot,
  type ServerOptions,
  serverUser,
} from './postgres-server.js';
