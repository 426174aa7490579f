import type { IncomingMessage } from 'node:http';
import type { Plugin } from 'graphql-yoga';
import { isLoopback } from '../config/index.js';

/**
 * Who may talk to the API from a browser. Loopback is not a trust boundary against web pages:
 * with no tokens configured every caller is admin, and any page the user opens can send
 * requests to 127.0.0.1. So:
 *
 * - a request whose `Origin` is neither this server's own origin nor listed in CORS_ORIGINS is
 *   refused (HTTP and the WebSocket upgrade alike), and CORS headers are sent only to listed
 *   origins;
 * - with no tokens, the `Host` must be a loopback name, so a page that rebinds its own DNS name
 *   to 127.0.0.1 (and is thereby "same-origin") is refused too;
 * - POST bodies must be JSON: form-encoded, multipart and text/plain bodies are what a page can
 *   send cross-origin without a preflight.
 */
export interface OriginPolicyOptions {
  /** CORS_ORIGINS, already normalised to `scheme://host[:port]`. */
  corsOrigins: readonly string[];
  /** API_TOKENS configured: without them the Host must be loopback. */
  authEnabled: boolean;
}

export type OriginDecision =
  | { allowed: true /** The origin is on the allow-list (CORS headers are due). */; listed: boolean }
  | { allowed: false; reason: string };

export const JSON_MEDIA_TYPES: readonly string[] = ['application/json', 'application/graphql-response+json'];

export interface OriginPolicy {
  decide(origin: string | null | undefined, host: string | null | undefined): OriginDecision;
  corsOrigins: readonly string[];
}

export function createOriginPolicy({ corsOrigins, authEnabled }: OriginPolicyOptions): OriginPolicy {
  const listed = new Set(corsOrigins);
  return {
    corsOrigins,
    decide(origin, host) {
      const ownHost = normaliseHost(host);
      if (!authEnabled && host && (ownHost === null || !isLoopback(new URL(`http://${ownHost}`).hostname))) {
        return {
          allowed: false,
          reason: `Host ${JSON.stringify(host)} is not a loopback name: without API_TOKENS poolpilot answers only requests addressed to 127.0.0.1, ::1 or localhost`,
        };
      }
      if (!origin) return { allowed: true, listed: false };
      if (listed.has(origin)) return { allowed: true, listed: true };
      if (origin !== 'null' && ownHost !== null && originHost(origin) === ownHost) {
        return { allowed: true, listed: false };
      }
      return {
        allowed: false,
        reason: `origin ${JSON.stringify(origin)} is not allowed: only this server's own pages and the origins in CORS_ORIGINS may call it`,
      };
    },
  };
}

function normaliseHost(host: string | null | undefined): string | null {
  if (!host) return null;
  try {
    return new URL(`http://${host}`).host;
  } catch {
    return null;
  }
}

function originHost(origin: string): string | null {
  try {
    return new URL(origin).host;
  } catch {
    return null;
  }
}

function refusal(
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): Response {
  // The shape both GraphQL and the REST routes answer errors in.
  return new Response(JSON.stringify({ code, message, errors: [{ message, extensions: { code } }] }), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}

/**
 * The Yoga side: refuses foreign origins (403 FORBIDDEN) and non-JSON POST bodies (415
 * BAD_REQUEST) before Yoga parses anything, and answers CORS only for listed origins.
 */
export function useOriginPolicy(policy: OriginPolicy): Plugin {
  return {
    onRequest({ request, endResponse }) {
      const decision = policy.decide(request.headers.get('origin'), request.headers.get('host'));
      if (!decision.allowed) {
        endResponse(refusal(403, 'FORBIDDEN', decision.reason));
        return;
      }
      // The REST routes check bodies themselves (a bare `curl -X POST` without a body is fine there).
      if (request.method === 'POST' && !new URL(request.url).pathname.startsWith('/api/')) {
        const mediaType = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
        if (!JSON_MEDIA_TYPES.includes(mediaType)) {
          endResponse(
            refusal(
              415,
              'BAD_REQUEST',
              `POST bodies must be ${JSON_MEDIA_TYPES.join(' or ')}; got ${JSON.stringify(mediaType || 'no content-type')}`,
              { accept: JSON_MEDIA_TYPES.join(', ') },
            ),
          );
        }
      }
    },
    // Answers differ by Origin (CORS headers or a refusal): a shared cache must not mix them.
    onResponse({ response }) {
      response.headers.append('vary', 'Origin');
    },
  };
}

/** Yoga's `cors` option: headers (credentials included) for listed origins only. */
export function corsFor(policy: OriginPolicy) {
  const listed = new Set(policy.corsOrigins);
  return (request: Request) => {
    const origin = request.headers.get('origin');
    if (!origin || !listed.has(origin)) return false as const;
    return {
      origin,
      credentials: true,
      methods: ['GET', 'POST', 'OPTIONS'],
      allowedHeaders: ['authorization', 'content-type', 'accept'],
      maxAge: 600,
    };
  };
}

/** The WebSocket side: `ws`'s verifyClient, so a foreign origin is refused before the handshake. */
export function verifyUpgrade(policy: OriginPolicy) {
  return (
    info: { origin: string; req: IncomingMessage },
    done: (result: boolean, code?: number, message?: string) => void,
  ): void => {
    const decision = policy.decide(info.origin || null, info.req.headers.host);
    if (decision.allowed) done(true);
    else done(false, 403, decision.reason);
  };
}
