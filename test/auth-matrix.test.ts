import {
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
  getNamedType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
} from 'graphql';
import { createClient } from 'graphql-ws';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { schema } from '../src/graphql/schema.js';
import { useTestServer } from './harness/server.js';

type Role = 'viewer' | 'operator' | 'admin';
const ROLES: Role[] = ['viewer', 'operator', 'admin'];
const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };
const TOKENS: Record<Role, string> = {
  viewer: 'viewer-token-0123456789',
  operator: 'operator-token-0123456789',
  admin: 'admin-token-0123456789abc',
};
/**
 * Allowed calls of these are not run: they change state other test files rely on, or (pausePool)
 * that the rest of this file needs (wire-admin-console.test.ts runs them).
 */
const NOT_RUN_WHEN_ALLOWED = new Set(['resetQueryStatistics', 'pausePool']);

interface Operation {
  kind: 'query' | 'mutation' | 'subscription';
  field: string;
  document: string;
  needs: Role;
}

/** Every root field of the schema, with the role its authScopes ask for (viewer: the root types' own). */
function operations(): Operation[] {
  const out: Operation[] = [];
  const roots: [Operation['kind'], GraphQLObjectType | null | undefined][] = [
    ['query', schema.getQueryType()],
    ['mutation', schema.getMutationType()],
    ['subscription', schema.getSubscriptionType()],
  ];
  for (const [kind, type] of roots) {
    for (const field of Object.values(type?.getFields() ?? {})) {
      const document = documentFor(kind, field);
      if (!document) throw new Error(`no arguments known for ${kind} ${field.name}: extend argumentValue()`);
      const scopes = (field.extensions as any)?.pothosOptions?.authScopes ?? {};
      const needs: Role = scopes.admin ? 'admin' : scopes.operator ? 'operator' : 'viewer';
      out.push({ kind, field: field.name, document, needs });
    }
  }
  return out;
}

function documentFor(kind: Operation['kind'], field: GraphQLField<unknown, unknown>): string | null {
  const args: string[] = [];
  for (const arg of field.args) {
    if (kind === 'subscription' && arg.name === 'intervalMs') {
      args.push('intervalMs: 200');
      continue;
    }
    if (!isNonNullType(arg.type) || arg.defaultValue !== undefined) continue;
    const value = argumentValue(arg.name, arg.type);
    if (value === null) return null;
    args.push(`${arg.name}: ${value}`);
  }
  const selection = isLeafType(getNamedType(field.type)) ? '' : ' { __typename }';
  return `${kind} { ${field.name}${args.length ? `(${args.join(', ')})` : ''}${selection} }`;
}

function argumentValue(name: string, type: GraphQLInputType): string | null {
  const named = getNamedType(type);
  const inner = isNonNullType(type) ? type.ofType : type;
  if (isListType(inner)) {
    if (isInputObjectType(named) && named.name === 'StatementInput') return '[{ sql: "SELECT 1" }]';
    return null;
  }
  if (name === 'sql') return '"SELECT 1"';
  if (name === 'min') return '1';
  if (name === 'max') return '4';
  if (named.name === 'ID') return '"auth-matrix-unknown"';
  if (named.name === 'String') return '"auth-matrix"';
  if (named.name === 'Int') return '1';
  if (named.name === 'Boolean') return 'true';
  return null;
}

const OPERATIONS = operations();
const codesOf = (errors: { extensions?: Record<string, unknown> }[] | undefined) =>
  (errors ?? []).map((e) => e.extensions?.code);

describe('auth matrix: transport × token × role × operation', () => {
  const server = useTestServer(
    { DB_POOL_MIN: '1', DB_POOL_SIZE: '4', API_TOKENS: ROLES.map((r) => `${r}:${TOKENS[r]}`).join(',') },
    { prefix: 'pp_auth' },
  );

  it('covers the contract operations', () => {
    const names = OPERATIONS.map((o) => o.field);
    for (const name of [
      'info',
      'health',
      'poolStats',
      'analyzeQuery',
      'executeQuery',
      'executeTransaction',
      'resizePool',
    ]) {
      expect(names).toContain(name);
    }
    const needs = Object.fromEntries(
      OPERATIONS.filter((o) => o.kind === 'mutation').map((o) => [o.field, o.needs]),
    );
    expect(needs).toMatchObject({
      analyzeQuery: 'viewer',
      executeQuery: 'operator',
      executeTransaction: 'operator',
      resizePool: 'admin',
    });
    if (needs.applyOptimization) expect(needs.applyOptimization).toBe('admin');
  });

  describe('HTTP', () => {
    const httpOps = OPERATIONS.filter((o) => o.kind !== 'subscription');

    it.each(httpOps.map((o) => [o.field, o] as const))(
      '%s: no token and a wrong token → UNAUTHENTICATED',
      async (_f, op) => {
        for (const token of [undefined, 'wrong-token-0123456789']) {
          const res = await server.pp.gql(op.document, undefined, token);
          expect(codesOf(res.errors), `${op.field} with ${token ?? 'no token'}`).toContain('UNAUTHENTICATED');
          expect(res.data ?? null).toBeNull();
        }
      },
    );

    it.each(httpOps.map((o) => [o.field, o] as const))(
      '%s: each role is let in or FORBIDDEN by rank',
      async (_f, op) => {
        for (const role of ROLES) {
          const allowed = RANK[role] >= RANK[op.needs];
          if (allowed && NOT_RUN_WHEN_ALLOWED.has(op.field)) continue;
          const res = await server.pp.gql(op.document, undefined, TOKENS[role]);
          const codes = codesOf(res.errors);
          if (allowed) {
            expect(codes, `${role} → ${op.field}: ${JSON.stringify(res.errors)}`).not.toContain('FORBIDDEN');
            expect(codes).not.toContain('UNAUTHENTICATED');
          } else {
            expect(codes, `${role} → ${op.field}`).toEqual(['FORBIDDEN']);
          }
        }
      },
    );
  });

  describe('WebSocket', () => {
    const run = (token: string | undefined, op: Operation) =>
      new Promise<{ result?: any; closeCode?: number }>((resolve) => {
        const client = createClient({
          url: server.pp.wsUrl,
          webSocketImpl: WebSocket,
          retryAttempts: 0,
          connectionParams: token ? { authorization: `Bearer ${token}` } : undefined,
          on: {
            closed: (event) => {
              const code = (event as { code?: number }).code;
              if (code === 4401) resolve({ closeCode: code });
            },
          },
        });
        const stop = client.subscribe(
          { query: op.document },
          {
            next: (result) => {
              stop();
              void client.dispose();
              resolve({ result });
            },
            error: (error) => {
              void client.dispose();
              const code = (error as { code?: number }).code;
              resolve(
                code ? { closeCode: code } : { result: { errors: Array.isArray(error) ? error : [error] } },
              );
            },
            complete: () => undefined,
          },
        );
      });

    it.each(OPERATIONS.map((o) => [`${o.kind} ${o.field}`, o] as const))(
      '%s: no or wrong token closes with 4401',
      async (_f, op) => {
        expect(await run(undefined, op)).toEqual({ closeCode: 4401 });
        expect(await run('wrong-token-0123456789', op)).toEqual({ closeCode: 4401 });
      },
    );

    it.each(OPERATIONS.map((o) => [`${o.kind} ${o.field}`, o] as const))(
      '%s: each role is let in or FORBIDDEN by rank',
      async (_f, op) => {
        for (const role of ROLES) {
          const allowed = RANK[role] >= RANK[op.needs];
          if (allowed && NOT_RUN_WHEN_ALLOWED.has(op.field)) continue;
          const { result, closeCode } = await run(TOKENS[role], op);
          expect(closeCode).toBeUndefined();
          const codes = codesOf(result?.errors);
          if (allowed) {
            expect(codes, `${role} → ${op.field}: ${JSON.stringify(result?.errors)}`).not.toContain(
              'FORBIDDEN',
            );
          } else {
            expect(codes, `${role} → ${op.field}`).toContain('FORBIDDEN');
          }
        }
      },
    );
  });
});
