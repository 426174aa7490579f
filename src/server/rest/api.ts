import type { ExecutionArgs, GraphQLArgument, GraphQLSchema } from 'graphql';
import type { Plugin, YogaInitialContext } from 'graphql-yoga';
import { createSofa, createSofaRouter } from 'sofa-api';
import { ErrorCode } from '../../core/index.js';
import type { Logger } from '../../core/logger.js';
import { BAD_REQUEST, type RestErrorBody, restError, restErrorBody } from './errors.js';
import { completeRestDocument, describeRestApi } from './openapi.js';
import { checkOrigin, normalizeArguments, RestRefusal, readJsonBody } from './request.js';
import { matchRestRoute, REST_BASE_PATH, REST_ROUTES, type RestRoute } from './routes.js';
import { restSchema } from './schema.js';

export interface RestApiOptions {
  /** The GraphQL schema; each route runs one of its root fields. */
  schema: GraphQLSchema;
  /** Largest request body accepted, in bytes (2 × MAX_SQL_BYTES + 64 KiB, as the service sets it). */
  maxBodyBytes: number;
  /** Origins other than the service's own whose pages may call the routes. Default: none. */
  allowedOrigins?: readonly string[];
  /** The service version, shown in the OpenAPI document. */
  version: string;
  log: Logger;
}

/** Yoga's Fetch API: responses handed back to Yoga are of its own kind. */
interface FetchAPI {
  Request: typeof Request;
  Response: typeof Response;
  Headers: typeof Headers;
}

type Enveloped = ReturnType<Parameters<NonNullable<Plugin['onYogaInit']>>[0]['yoga']['getEnveloped']>;

/**
 * The user's guide's REST endpoints under /api, generated from the GraphQL schema by SOFA
 * (sofa-api): each route runs one root field through Yoga's envelop, so it has GraphQL's context,
 * auth scopes, error mapping and masking, metrics and drain. Before SOFA sees a request it is
 * checked here: Origin, JSON-only bodies, size, known route and argument names. `GET
 * /api/openapi.json` is the OpenAPI document of the same routes.
 */
export function useRestApi(options: RestApiOptions): Plugin {
  const { maxBodyBytes, allowedOrigins = [], log } = options;
  const schema = restSchema(options.schema, REST_ROUTES);
  let getEnveloped: ((context: Record<string, unknown>) => Enveloped) | undefined;
  const envelopedByContext = new WeakMap<object, Enveloped>();
  let fetchAPI: FetchAPI = globalThis;

  const sofa = createSofa({
    basePath: REST_BASE_PATH,
    schema,
    routes: Object.fromEntries(
      REST_ROUTES.map((r) => [r.field, { method: r.method, path: r.path, description: r.description }]),
    ),
    async context(serverContext: Record<string, unknown>) {
      if (!getEnveloped) throw new Error('the REST API runs inside Yoga');
      const enveloped = getEnveloped(serverContext);
      const contextValue = (await enveloped.contextFactory(serverContext)) as object;
      envelopedByContext.set(contextValue, enveloped);
      return contextValue;
    },
    execute: ((args: ExecutionArgs) => {
      const enveloped = envelopedByContext.get(args.contextValue as object);
      if (!enveloped) throw new Error('REST execution without its context');
      return enveloped.execute(args);
    }) as never,
    errorHandler: (errors) => {
      const { status, body } = restErrorBody(errors);
      if (body.code === ErrorCode.Internal) log.error({ errors }, 'REST request failed');
      return jsonError(status, body) as never;
    },
    customScalars: {
      JSON: { description: 'Any JSON value.' },
      DateTime: { type: 'string', format: 'date-time' },
    },
    openAPI: describeRestApi(options.version),
    swaggerUI: { endpoint: false as never },
  });
  const router = createSofaRouter(sofa);
  completeRestDocument(router.openAPIDocument);

  async function handle(request: Request, url: URL, serverContext: object): Promise<Response> {
    try {
      checkOrigin(request, url, allowedOrigins);
      const path = url.pathname.slice(REST_BASE_PATH.length) || '/';
      if (request.method === 'GET' && path === '/openapi.json')
        return await router.handleRequest(request, serverContext);
      const match = matchRestRoute(request.method, path);
      if (!match) throw unrouted(request.method, path);
      const forwarded = await argumentsChecked(request, url, match.route, Object.keys(match.params));
      return await router.handleRequest(forwarded, serverContext);
    } catch (error) {
      if (error instanceof RestRefusal) {
        const { status, body } = restError(error.code, error.message);
        return jsonError(error.status ?? status, body, error.status === 405 ? allowed(url) : undefined);
      }
      log.error({ err: error, url: url.pathname }, 'REST request failed');
      return jsonError(500, restError(ErrorCode.Internal, 'Unexpected error.').body);
    }
  }

  /** The request SOFA gets: arguments under the schema's names, unknown names refused. */
  async function argumentsChecked(
    request: Request,
    url: URL,
    route: RestRoute,
    pathParams: string[],
  ): Promise<Request> {
    const args = fieldArguments(route).filter((a) => !pathParams.includes(a.name));
    if (route.method === 'GET') {
      normalizeArguments(route, args, Object.fromEntries(url.searchParams), 'query string');
      return request;
    }
    if (url.search !== '') {
      throw new RestRefusal(
        BAD_REQUEST,
        'a POST takes its arguments from its JSON body, not the query string',
      );
    }
    const body = normalizeArguments(route, args, await readJsonBody(request, maxBodyBytes), 'body');
    const headers = new fetchAPI.Headers(request.headers);
    headers.delete('content-length');
    headers.set('content-type', 'application/json');
    return new fetchAPI.Request(request.url, { method: 'POST', headers, body: JSON.stringify(body) });
  }

  function fieldArguments(route: RestRoute): readonly GraphQLArgument[] {
    const [kind, name] = route.field.split('.') as ['Query' | 'Mutation', string];
    const root = kind === 'Query' ? schema.getQueryType() : schema.getMutationType();
    return root!.getFields()[name]!.args;
  }

  function unrouted(method: string, path: string): RestRefusal {
    const methods = methodsAt(path);
    if (methods.length > 0) {
      return new RestRefusal(BAD_REQUEST, `${method} is not served here; use ${methods.join(' or ')}`, 405);
    }
    return new RestRefusal(
      BAD_REQUEST,
      `no REST route ${method} ${REST_BASE_PATH}${path}; the routes are listed in ${REST_BASE_PATH}/openapi.json`,
      404,
    );
  }

  function methodsAt(path: string): string[] {
    if (path === '/openapi.json') return ['GET'];
    return REST_ROUTES.filter((r) => matchRestRoute(r.method, path)?.route === r).map((r) => r.method);
  }

  function allowed(url: URL): Record<string, string> {
    return { allow: methodsAt(url.pathname.slice(REST_BASE_PATH.length)).join(', ') };
  }

  function jsonError(status: number, body: RestErrorBody, headers: Record<string, string> = {}): Response {
    return new fetchAPI.Response(JSON.stringify(body), {
      status,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
        ...(status === 401 ? { 'www-authenticate': 'Bearer' } : {}),
        ...headers,
      },
    });
  }

  return {
    onYogaInit({ yoga }) {
      getEnveloped = yoga.getEnveloped as unknown as typeof getEnveloped;
      fetchAPI = yoga.fetchAPI as unknown as FetchAPI;
    },
    async onRequest({ request, url, serverContext, endResponse }) {
      if (url.pathname !== REST_BASE_PATH && !url.pathname.startsWith(`${REST_BASE_PATH}/`)) return;
      endResponse(await handle(request, url, serverContext as YogaInitialContext));
    },
  };
}
