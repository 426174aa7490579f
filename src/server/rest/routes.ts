/**
 * The REST routes of the user's guide, each one GraphQL root field. The selection, the JSON
 * schemas and the OpenAPI document are generated from the field (SOFA); this table only says where
 * each field is reached. Paths are under `REST_BASE_PATH`.
 */
export interface RestRoute {
  /** `Query.name` or `Mutation.name`. */
  field: `${'Query' | 'Mutation'}.${string}`;
  method: 'GET' | 'POST';
  /** `:name` segments are path parameters (the field's argument of that name). */
  path: string;
  /**
   * Body or query-string names the guide uses for an argument: `{"query": "SELECT ..."}` is the
   * guide's body for what the schema calls `sql`.
   */
  aliases?: Readonly<Record<string, string>>;
  description: string;
}

export const REST_BASE_PATH = '/api';

export const REST_ROUTES: readonly RestRoute[] = [
  {
    field: 'Query.info',
    method: 'GET',
    path: '/info',
    description: 'Service information (also at GET /info).',
  },
  {
    field: 'Mutation.analyzeQuery',
    method: 'POST',
    path: '/query/analyze',
    aliases: { query: 'sql' },
    description:
      'Scores a statement without running it: complexity, severity, route, recommendation and the pool figures. Body: {"query": "SELECT ..."} (or "sql"). Viewer.',
  },
  {
    field: 'Query.poolStats',
    method: 'GET',
    path: '/pool/stats',
    description: 'Pool figures per target and in total.',
  },
  {
    field: 'Query.optimizations',
    method: 'POST',
    path: '/pool/optimize',
    description:
      'The current optimization suggestions (changes nothing). Apply one with POST /api/pool/optimize/{id} (admin).',
  },
  {
    field: 'Mutation.applyOptimization',
    method: 'POST',
    path: '/pool/optimize/:id',
    description:
      'Applies the current suggestion with this id (admin); body {"dryRun": true} returns what would run and changes nothing.',
  },
  {
    field: 'Mutation.executeQuery',
    method: 'POST',
    path: '/query/execute',
    aliases: { query: 'sql' },
    description:
      'Runs one statement through the pool, routed by its analysis. Body: {"query": "SELECT ...", "params": [...]} (or "sql"). Operator.',
  },
  {
    field: 'Query.slowQueries',
    method: 'GET',
    path: '/slow-queries',
    description: 'Statements by time spent, from pg_stat_statements (or poolpilot’s own observations).',
  },
];

/** The route `method path` (path relative to the base) names, or null. */
export function matchRestRoute(
  method: string,
  path: string,
): { route: RestRoute; params: Record<string, string> } | null {
  const segments = path.split('/');
  for (const route of REST_ROUTES) {
    if (route.method !== method) continue;
    const pattern = route.path.split('/');
    if (pattern.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const matches = pattern.every((part, i) => {
      const segment = segments[i]!;
      if (!part.startsWith(':')) return part === segment;
      if (segment === '') return false;
      params[part.slice(1)] = segment;
      return true;
    });
    if (matches) return { route, params };
  }
  return null;
}
