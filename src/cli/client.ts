import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { CliError, ExitCode } from './exit-codes.js';

export interface Connection {
  /** Base URL of the server, e.g. http://127.0.0.1:3338 */
  url: string;
  token: string | undefined;
}

interface GraphQLErrorBody {
  message: string;
  extensions?: { code?: string };
}

/** What the server's schema offers, by root type, so commands can say precisely what is missing. */
export interface RootFields {
  query: Set<string>;
  mutation: Set<string>;
  subscription: Set<string>;
}

/** Said whenever the server cannot be reached: where the CLI looks, and how to point it elsewhere. */
export const WHERE_HINT =
  'Start it with `npx poolpilot start` (or `npm start`), or point the CLI at another server with --url URL or POOLPILOT_URL=URL (default http://127.0.0.1:3338).';

const CODE_EXIT: Record<string, ExitCode> = {
  UNAUTHENTICATED: ExitCode.Unauthorized,
  FORBIDDEN: ExitCode.Unauthorized,
  GRAPHQL_VALIDATION_FAILED: ExitCode.Unsupported,
};

export function graphqlUrl(base: string): string {
  const url = new URL(base);
  if (!url.pathname.endsWith('/graphql')) url.pathname = `${url.pathname.replace(/\/$/, '')}/graphql`;
  return url.toString();
}

/** POST /graphql; any GraphQL error becomes a CliError with an exit code from its `extensions.code`. */
export async function request<T>(
  conn: Connection,
  query: string,
  variables: Record<string, unknown> = {},
  { timeoutMs = 60_000 } = {},
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(graphqlUrl(conn.url), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        ...(conn.token ? { authorization: `Bearer ${conn.token}` } : {}),
      },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const cause = causeOf(error);
    throw new CliError(
      ExitCode.Unreachable,
      `cannot reach poolpilot at ${conn.url} (${cause}). ${WHERE_HINT}`,
    );
  }
  let body: { data?: T; errors?: GraphQLErrorBody[] };
  try {
    body = (await res.json()) as typeof body;
  } catch {
    throw new CliError(
      ExitCode.Unreachable,
      `${conn.url} answered HTTP ${res.status} without GraphQL JSON: is it poolpilot? ${WHERE_HINT}`,
    );
  }
  const error = body.errors?.[0];
  if (error) {
    const code = error.extensions?.code;
    throw new CliError(code ? (CODE_EXIT[code] ?? ExitCode.Failed) : ExitCode.Failed, error.message, code);
  }
  if (body.data === undefined) throw new CliError(ExitCode.Failed, `HTTP ${res.status} with no data`);
  return body.data;
}

export async function rootFields(conn: Connection): Promise<RootFields> {
  const data = await request<{
    __schema: Record<
      'queryType' | 'mutationType' | 'subscriptionType',
      { fields: { name: string }[] } | null
    >;
  }>(
    conn,
    `{ __schema {
      queryType { fields { name } }
      mutationType { fields { name } }
      subscriptionType { fields { name } }
    } }`,
  );
  const names = (t: { fields: { name: string }[] } | null) => new Set((t?.fields ?? []).map((f) => f.name));
  return {
    query: names(data.__schema.queryType),
    mutation: names(data.__schema.mutationType),
    subscription: names(data.__schema.subscriptionType),
  };
}

/** Fails with Unsupported, naming every missing field, when the server lacks any of them. */
export function requireFields(
  available: RootFields,
  needed: Partial<Record<keyof RootFields, string[]>>,
  command: string,
): void {
  const missing = (Object.entries(needed) as [keyof RootFields, string[]][]).flatMap(([root, fields]) =>
    fields.filter((f) => !available[root].has(f)).map((f) => `${root} ${f}`),
  );
  if (missing.length > 0) {
    throw new CliError(
      ExitCode.Unsupported,
      `this poolpilot server does not offer ${missing.join(', ')}, which \`poolpilot ${command}\` needs`,
    );
  }
}

/** A graphql-ws client over `ws`, with the token in connectionParams as the server expects. */
export function subscriptionClient(
  conn: Connection,
  onClosed?: (code: number, reason: string) => void,
): Client {
  const url = new URL(graphqlUrl(conn.url));
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return createClient({
    url: url.toString(),
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams: conn.token ? { authorization: `Bearer ${conn.token}` } : {},
    on: {
      closed: (event) => {
        const e = event as { code?: number; reason?: string };
        onClosed?.(e.code ?? 0, e.reason ?? '');
      },
    },
  });
}

/** The first event of a subscription (one sample), then unsubscribes. */
export function firstEvent<T>(client: Client, query: string, timeoutMs = 10_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      dispose();
      reject(new CliError(ExitCode.Unreachable, `no sample within ${timeoutMs} ms`));
    }, timeoutMs);
    const dispose = client.subscribe<T>(
      { query },
      {
        next: (result) => {
          clearTimeout(timer);
          dispose();
          const error = result.errors?.[0] as GraphQLErrorBody | undefined;
          if (error) reject(new CliError(ExitCode.Failed, error.message, error.extensions?.code));
          else resolve(result.data as T);
        },
        error: (error) => {
          clearTimeout(timer);
          reject(toCliError(error));
        },
        complete: () => clearTimeout(timer),
      },
    );
  });
}

/** graphql-ws reports failures as close events, error lists or Errors. */
export function toCliError(error: unknown): CliError {
  if (error instanceof CliError) return error;
  const e = error as { code?: number; reason?: string; message?: string } | GraphQLErrorBody[];
  if (Array.isArray(e)) {
    const code = e[0]?.extensions?.code;
    return new CliError(
      code ? (CODE_EXIT[code] ?? ExitCode.Failed) : ExitCode.Failed,
      e[0]?.message ?? 'error',
      code,
    );
  }
  if (e.code === 4401 || e.code === 4403)
    return new CliError(ExitCode.Unauthorized, `WebSocket closed: ${e.reason || 'unauthorized'}`);
  if (typeof e.code === 'number')
    return new CliError(
      ExitCode.Unreachable,
      `WebSocket closed (${`${e.code} ${e.reason ?? ''}`.trim()}). ${WHERE_HINT}`,
    );
  return new CliError(ExitCode.Unreachable, `${e.message ?? String(error)}. ${WHERE_HINT}`);
}

interface TypeRef {
  kind: string;
  name: string | null;
  ofType: TypeRef | null;
}
const TYPE_REF = 'kind name ofType { kind name ofType { kind name ofType { kind name } } }';

const named = (t: TypeRef): TypeRef => (t.ofType ? named(t.ofType) : t);

/**
 * The selection set `{ a b c }` of every leaf field (scalars, enums, JSON) of what the root field
 * `root.field` returns, read from the server's schema: output tracks the server's types without
 * the CLI hard-coding shapes it does not render. Null when the field or its type is missing.
 */
export async function leafSelection(
  conn: Connection,
  root: 'queryType' | 'mutationType',
  field: string,
): Promise<string | null> {
  const schema = await request<{
    __schema: Record<string, { fields: { name: string; type: TypeRef }[] } | null>;
  }>(conn, `{ __schema { ${root} { fields { name type { ${TYPE_REF} } } } } }`);
  const target = schema.__schema[root]?.fields.find((f) => f.name === field);
  if (!target) return null;
  const typeName = named(target.type).name;
  const type = await request<{
    __type: { fields: { name: string; args: { type: TypeRef }[]; type: TypeRef }[] | null } | null;
  }>(
    conn,
    `query($n: String!) { __type(name: $n) { fields { name args { type { kind } } type { ${TYPE_REF} } } } }`,
    {
      n: typeName,
    },
  );
  const leaves = (type.__type?.fields ?? [])
    .filter((f) => f.args.every((a) => a.type.kind !== 'NON_NULL'))
    .filter((f) => ['SCALAR', 'ENUM'].includes(named(f.type).kind))
    .map((f) => f.name);
  return leaves.length > 0 ? `{ ${leaves.join(' ')} }` : null;
}

/** The network reason behind a failed fetch: ECONNREFUSED, ENOTFOUND, a timeout... */
export function causeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string; errors?: { code?: string }[] } })
    .cause;
  if ((error as Error).name === 'TimeoutError') return 'timed out';
  return cause?.code ?? cause?.errors?.[0]?.code ?? cause?.message ?? (error as Error).message;
}
