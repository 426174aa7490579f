import { lexicographicSortSchema } from 'graphql';
import { builder } from './builder.js';
import './types/analysis.js';
import './types/clients.js';
import './types/error-codes.js';
import './types/execute.js';
import './types/health.js';
import './types/info.js';
import './types/insights-connections.js';
import './types/insights-settings.js';
import './types/insights-slow-queries.js';
import './types/insights-tables.js';
import './types/optimizations.js';
import './types/pool-control.js';
import './types/pool-stats.js';
import './types/queue.js';
import './types/telemetry.js';

export const schema = lexicographicSortSchema(builder.toSchema());
