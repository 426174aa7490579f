import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The live dashboard: one page plus its scripts, every byte served from this process (the
 * page, uPlot and the graphql-ws browser client from node_modules), so it works on a network
 * with no way out.
 */
export const DASHBOARD_PATH = '/dashboard';

const require = createRequire(import.meta.url);
const PUBLIC = fileURLToPath(new URL('./public/', import.meta.url));
const UPLOT = path.dirname(require.resolve('uplot'));
const GRAPHQL_WS = path.dirname(require.resolve('graphql-ws'));

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/** The graphql-ws browser build is an ES module importing one shared chunk whose name carries a hash. */
function graphqlWsFiles(): Record<string, [string, string]> {
  const client = readFileSync(path.join(GRAPHQL_WS, 'client.js'), 'utf8');
  const files: Record<string, [string, string]> = { 'client.js': [path.join(GRAPHQL_WS, 'client.js'), JS] };
  for (const [, chunk] of client.matchAll(/from '\.\/([\w-]+\.js)'/g)) {
    files[chunk!] = [path.join(GRAPHQL_WS, chunk!), JS];
  }
  return files;
}

const FILES: Record<string, [string, string]> = {
  '': [path.join(PUBLIC, 'index.html'), 'text/html; charset=utf-8'],
  '/assets/dashboard.js': [path.join(PUBLIC, 'dashboard.js'), JS],
  '/assets/charts.js': [path.join(PUBLIC, 'charts.js'), JS],
  '/assets/dashboard.css': [path.join(PUBLIC, 'dashboard.css'), CSS],
  '/vendor/uplot/uPlot.iife.min.js': [path.join(UPLOT, 'uPlot.iife.min.js'), JS],
  '/vendor/uplot/uPlot.min.css': [path.join(UPLOT, 'uPlot.min.css'), CSS],
  ...Object.fromEntries(
    Object.entries(graphqlWsFiles()).map(([name, file]) => [`/vendor/graphql-ws/${name}`, file]),
  ),
};

// Scripts and styles from this origin only; the WebSocket goes back to this origin too.
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const cache = new Map<string, Buffer>();

/** Serves the dashboard's page or one of its files; false when `pathname` is not one of them. */
export async function serveDashboard(
  pathname: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  if (pathname !== DASHBOARD_PATH && !pathname.startsWith(`${DASHBOARD_PATH}/`)) return false;
  if (pathname === `${DASHBOARD_PATH}/`) {
    res.writeHead(301, { location: DASHBOARD_PATH });
    res.end();
    return true;
  }
  const entry = FILES[pathname.slice(DASHBOARD_PATH.length)];
  if (!entry) return false;
  const [file, type] = entry;
  let body = cache.get(file);
  if (!body) {
    body = await readFile(file);
    cache.set(file, body);
  }
  res.writeHead(200, {
    'content-type': type,
    'content-length': body.length,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    ...(type.startsWith('text/html')
      ? { 'content-security-policy': CSP, 'referrer-policy': 'no-referrer' }
      : {}),
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}
