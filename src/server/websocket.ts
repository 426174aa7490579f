import type { Server } from 'node:http';
import {
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  GraphQLError,
  getOperationAST,
} from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { type WebSocket, WebSocketServer } from 'ws';
import { ErrorCode } from '../core/index.js';
import type { Viewer } from '../graphql/context.js';
import { type OriginPolicy, verifyUpgrade } from './origin.js';
import { groupKey, SubscriptionGroups } from './subscription-groups.js';
import type { Yoga } from './yoga.js';

export interface WebSocketOptions {
  authenticate: (authorization: string | null | undefined) => Viewer;
  /** Checked on the upgrade request: a foreign Origin gets 403 and no handshake. */
  originPolicy: OriginPolicy;
  /** Operations one connection may have open at once (WS_MAX_SUBSCRIPTIONS). */
  maxSubscriptions: number;
}

/**
 * graphql-ws (`graphql-transport-ws`) on the same port and path as HTTP, executing through
 * Yoga's envelop so both transports share plugins, context and error masking.
 */
export function attachWebSocket(
  server: Server,
  yoga: Yoga,
  { authenticate, originPolicy, maxSubscriptions }: WebSocketOptions,
): { wss: WebSocketServer; dispose: () => Promise<void> } {
  const wss = new WebSocketServer({
    server,
    path: yoga.graphqlEndpoint,
    verifyClient: verifyUpgrade(originPolicy),
  });
  const viewers = new WeakMap<object, Viewer>();
  // One signal per socket: when the client goes away, statements it started are cancelled.
  const gone = new WeakMap<object, AbortSignal>();
  // connectionParams.session: the socket's session name for read-your-writes (checked where used).
  const sessions = new WeakMap<object, string>();
  const groups = new SubscriptionGroups();
  const disposable = useServer<Record<string, unknown>>(
    {
      onConnect: (ctx) => {
        const raw = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
        const viewer = authenticate(typeof raw === 'string' ? raw : null);
        if (viewer.authEnabled && viewer.role === null) {
          ctx.extra.socket.close(CloseCode.Unauthorized, 'Unauthorized');
          return false;
        }
        viewers.set(ctx, viewer);
        const controller = new AbortController();
        ctx.extra.socket.once('close', () => controller.abort());
        gone.set(ctx, controller.signal);
        const session = ctx.connectionParams?.session;
        if (session !== undefined && session !== null)
          sessions.set(ctx, typeof session === 'string' ? session : ''); // not a string: refused where used
        return true;
      },
      execute: (args) => (args.rootValue as EnvelopRoot).execute(args),
      subscribe: (args) => {
        const root = args.rootValue as EnvelopRoot;
        const shared = root.multiplex;
        if (!shared) return root.subscribe(args) as never;
        // The group's one execution gets a context of its own: the group's viewer, its audience,
        // and a signal that ends with the group rather than with any one socket.
        return groups.join(shared.key, shared.socket, shared.id, async (audience, signal) =>
          root.subscribe({
            ...args,
            contextValue: await shared.contextFactory({ viewer: shared.viewer, signal, audience }),
          }),
        ) as never;
      },
      onSubscribe: async (ctx, id, payload) => {
        // graphql-ws has already registered this one: more than the cap means one too many.
        if (Object.keys(ctx.subscriptions).length > maxSubscriptions) {
          return [
            new GraphQLError(
              `too many operations on this connection: at most ${maxSubscriptions} at once (WS_MAX_SUBSCRIPTIONS); complete one first`,
              { extensions: { code: ErrorCode.BadUserInput, limit: maxSubscriptions } },
            ),
          ];
        }
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
        });
        let document: DocumentNode;
        try {
          document = parse(payload.query);
        } catch (error) {
          // A syntax error (BAD_USER_INPUT from envelop's parse hook) is the operation's error,
          // not a reason to drop the whole socket.
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const errors = validate(schema, document);
        if (errors.length) return errors;
        const viewer = viewers.get(ctx);
        const root: EnvelopRoot = { execute, subscribe } as EnvelopRoot;
        const operation = getOperationAST(document, payload.operationName)?.operation;
        if (operation === 'subscription') {
          root.multiplex = {
            key: groupKey(document, payload.operationName, payload.variables, viewer),
            socket: ctx.extra.socket,
            id,
            viewer,
            contextFactory,
          };
        }
        return {
          schema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          // A multiplexed subscription's context is its group's, made when the group starts.
          contextValue: root.multiplex
            ? null
            : await contextFactory({ viewer, signal: gone.get(ctx), session: sessions.get(ctx) ?? null }),
          rootValue: root,
        } satisfies ExecutionArgs;
      },
    },
    wss,
  );
  return {
    wss,
    dispose: async () => {
      for (const client of wss.clients) client.close(1001, 'Going away');
      await disposable.dispose();
    },
  };
}

interface EnvelopRoot {
  execute: (args: ExecutionArgs) => never;
  subscribe: (args: ExecutionArgs) => Promise<AsyncIterable<ExecutionResult> | ExecutionResult> | never;
  multiplex?: {
    key: string;
    socket: WebSocket;
    id: string;
    viewer: Viewer | undefined;
    contextFactory: (extra: Record<string, unknown>) => unknown;
  };
}
