import { coerceInputValue, type GraphQLArgument } from 'graphql';
import { ErrorCode } from '../../core/index.js';
import { BAD_REQUEST } from './errors.js';
import type { RestRoute } from './routes.js';

/** Why a REST request is refused before it reaches GraphQL. */
export class RestRefusal extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** Overrides the code's usual status (415 for a media type, 405 for a method, 413 for a size). */
    readonly status?: number,
  ) {
    super(message);
  }
}

/**
 * Loopback is no defence against web pages: a page on another origin may send requests to
 * 127.0.0.1. A request a browser marks as coming from another origin is refused unless that origin
 * is allowed; scripts (curl, jq pipelines) send no Origin and are unaffected.
 */
export function checkOrigin(request: Request, url: URL, allowedOrigins: readonly string[]): void {
  const origin = request.headers.get('origin');
  if (origin === null || allowedOrigins.includes(origin)) return;
  // The host alone: behind a TLS-terminating proxy the page is https and this request http.
  if (hostOf(origin) === (request.headers.get('host') ?? url.host)) return;
  throw new RestRefusal(
    ErrorCode.Forbidden,
    `cross-origin requests to ${url.pathname} are refused (Origin ${JSON.stringify(origin)} is not allowed)`,
  );
}

function hostOf(origin: string): string | null {
  try {
    return new URL(origin).host;
  } catch {
    return null;
  }
}

/**
 * A POST body must be JSON, declared as such. Every form a page can submit without a CORS
 * preflight (urlencoded, multipart, text/plain) is refused whatever its body, so no cross-site
 * "simple request" reaches an operation. A POST with no body and no Content-Type (`curl -X POST`)
 * is an empty JSON object.
 */
export async function readJsonBody(request: Request, maxBytes: number): Promise<Record<string, unknown>> {
  const contentType = request.headers.get('content-type');
  const mediaType = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (contentType !== null && mediaType !== 'application/json') {
    throw new RestRefusal(
      BAD_REQUEST,
      `a POST body must be JSON (Content-Type: application/json), not ${JSON.stringify(mediaType)}`,
      415,
    );
  }
  const text = await readText(request, maxBytes);
  if (contentType === null && text.trim() !== '') {
    throw new RestRefusal(
      BAD_REQUEST,
      'a POST body needs Content-Type: application/json (other media types are refused)',
      415,
    );
  }
  if (text.trim() === '') return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new RestRefusal(BAD_REQUEST, `the body is not valid JSON: ${(error as Error).message}`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new RestRefusal(BAD_REQUEST, 'the body must be a JSON object, e.g. {"query": "SELECT 1"}');
  }
  return body as Record<string, unknown>;
}

async function readText(request: Request, maxBytes: number): Promise<string> {
  const tooLarge = () =>
    new RestRefusal(
      BAD_REQUEST,
      `the body is larger than ${maxBytes} bytes (2 × MAX_SQL_BYTES + 64 KiB)`,
      413,
    );
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  if (declared > maxBytes) throw tooLarge();
  if (!request.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The arguments a route accepts by name: the field's own, plus the guide's aliases. Unknown names
 * are refused rather than ignored, so a misspelt `{"qeury": ...}` says so instead of failing on a
 * missing argument; an alias and its argument together are ambiguous and refused too. Body values
 * are checked against the argument types as GraphQL variables are (SOFA alone would read
 * `{"dryRun": "yes"}` as false); query-string values are text and converted by SOFA.
 */
export function normalizeArguments(
  route: RestRoute,
  args: readonly GraphQLArgument[],
  values: Record<string, unknown>,
  where: 'body' | 'query string',
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const aliases = route.aliases ?? {};
  for (const [name, value] of Object.entries(values)) {
    const target = aliases[name] ?? name;
    const arg = args.find((a) => a.name === target);
    if (!arg) {
      const accepted = [...args.map((a) => a.name), ...Object.keys(aliases)].sort();
      throw new RestRefusal(
        ErrorCode.BadUserInput,
        `unknown ${where} field ${JSON.stringify(name)}; ${route.method} ${route.path} accepts ${accepted.map((n) => JSON.stringify(n)).join(', ') || 'none'}`,
      );
    }
    if (target in out) {
      throw new RestRefusal(
        ErrorCode.BadUserInput,
        `give ${JSON.stringify(target)} once (it has an alias: ${name})`,
      );
    }
    if (where === 'body') {
      coerceInputValue(value, arg.type, (_path, _invalid, error) => {
        throw new RestRefusal(
          ErrorCode.BadUserInput,
          `${JSON.stringify(name)} (${arg.type}): ${error.message}`,
        );
      });
    }
    out[target] = value;
  }
  return out;
}
