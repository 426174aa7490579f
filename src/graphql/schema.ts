import { lexicographicSortSchema } from 'graphql';
import { builder } from './builder.js';
import './types/health.js';
import './types/info.js';
import './types/pool-stats.js';

export const schema = lexicographicSortSchema(builder.toSchema());
