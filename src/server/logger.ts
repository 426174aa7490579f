import pino from 'pino';
import type { Config } from '../config/index.js';
import type { Logger } from '../core/logger.js';

/** JSON lines for machines; the level from LOG_LEVEL. Connection strings are never logged. */
export function createLogger(level: Config['logLevel'] | 'info' = 'info'): Logger {
  return pino({
    name: 'poolpilot',
    level,
    redact: {
      paths: ['*.password', '*.connectionString', '*.token', 'password', 'connectionString'],
      censor: '****',
    },
  }) as unknown as Logger;
}
