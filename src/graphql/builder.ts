import SchemaBuilder from '@pothos/core';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { DateTimeResolver, JSONResolver, SafeIntResolver } from 'graphql-scalars';
import type { Role } from '../config/index.js';
import { ErrorCode, PoolpilotError } from '../core/index.js';
import type { Context } from './context.js';

const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

function atLeast(role: Role | null, wanted: Role): boolean {
  return role !== null && RANK[role] >= RANK[wanted];
}

export const builder = new SchemaBuilder<{
  Context: Context;
  AuthScopes: { viewer: boolean; operator: boolean; admin: boolean };
  Scalars: {
    JSON: { Input: unknown; Output: unknown };
    DateTime: { Input: Date; Output: Date | string };
    SafeInt: { Input: number; Output: number };
  };
  DefaultFieldNullability: false;
}>({
  plugins: [ScopeAuthPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: (ctx) => ({
      viewer: atLeast(ctx.viewer.role, 'viewer'),
      operator: atLeast(ctx.viewer.role, 'operator'),
      admin: atLeast(ctx.viewer.role, 'admin'),
    }),
    unauthorizedError: (_parent, ctx, info) =>
      ctx.viewer.role === null
        ? new PoolpilotError(
            ErrorCode.Unauthenticated,
            'a valid API token is required (Authorization: Bearer TOKEN)',
          )
        : new PoolpilotError(
            ErrorCode.Forbidden,
            `${info.parentType.name}.${info.fieldName} needs a higher role than ${ctx.viewer.role}`,
          ),
  },
});

builder.addScalarType('JSON', JSONResolver);
builder.addScalarType('DateTime', DateTimeResolver);
// Counters that can pass 2^31 (GraphQL Int is 32-bit): exact integers up to 2^53 - 1, a JSON number.
builder.addScalarType('SafeInt', SafeIntResolver);

builder.queryType({
  description:
    'Read-only views of the pools, the database and the suggestions. Every field needs the viewer role ' +
    '(or no API_TOKENS, on loopback): without a valid token UNAUTHENTICATED. Fields that read the database ' +
    'fail with DB_UNAVAILABLE while the primary is down. Error codes: see errorCodes.',
  authScopes: { viewer: true },
});
builder.mutationType({
  description:
    'Operations. analyzeQuery needs viewer, executeQuery and executeTransaction operator, the rest admin; ' +
    'a role too low gets FORBIDDEN, no valid token UNAUTHENTICATED.',
  authScopes: { viewer: true },
});
builder.subscriptionType({
  description:
    'Live samples over WebSocket (graphql-transport-ws), viewer role. Subscribers of one stream and interval ' +
    'share one sampler.',
  authScopes: { viewer: true },
});
