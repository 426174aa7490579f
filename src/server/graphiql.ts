import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * GraphiQL served entirely by poolpilot. Yoga's default page loads its script, stylesheet and
 * Monaco workers from a public CDN, which never loads on the isolated networks databases live in;
 * this page loads the same files from the installed `@graphql-yoga/graphiql` package.
 */
export const GRAPHIQL_ASSET_PREFIX = '/graphiql/';

const require = createRequire(import.meta.url);
const DIST = path.dirname(require.resolve('@graphql-yoga/graphiql'));

const ASSETS: Record<string, string> = {
  'graphiql.css': 'text/css; charset=utf-8',
  'yoga-graphiql.umd.js': 'text/javascript; charset=utf-8',
  'monacoeditorwork/editor.worker.bundle.js': 'text/javascript; charset=utf-8',
  'monacoeditorwork/json.worker.bundle.js': 'text/javascript; charset=utf-8',
  'monacoeditorwork/graphql.worker..bundle.js': 'text/javascript; charset=utf-8',
};

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// `<` escaped so that option values can never close the script element.
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

export function renderLocalGraphiQL(
  options: Record<string, unknown> & { title?: string; defaultQuery?: string },
): string {
  const base = GRAPHIQL_ASSET_PREFIX;
  // Yoga's GraphiQL ignores `defaultQuery` and lets a `query` prop override the URL's ?query=,
  // so the page picks the starting query itself (below): the shared link's, else ours.
  const props = { ...options, query: options.defaultQuery };
  const title = escapeHtml(options.title ?? 'poolpilot');
  const workers = {
    editorWorkerService: `${base}monacoeditorwork/editor.worker.bundle.js`,
    json: `${base}monacoeditorwork/json.worker.bundle.js`,
    graphql: `${base}monacoeditorwork/graphql.worker..bundle.js`,
  };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${base}graphiql.css">
</head>
<body id="body" class="no-focus-outline">
<noscript>You need to enable JavaScript to run GraphiQL.</noscript>
<div id="root">Loading ${title}…</div>
<script>
const workerUrls = ${scriptJson(workers)};
self.MonacoEnvironment = { globalAPI: false, getWorkerUrl: (_id, label) => workerUrls[label] };
</script>
<script src="${base}yoga-graphiql.umd.js"></script>
<script>
const props = ${scriptJson(props)};
props.query = new URLSearchParams(location.search).get('query') || props.query;
YogaGraphiQL.renderYogaGraphiQL(document.getElementById('root'), props);
</script>
</body>
</html>`;
}

const cache = new Map<string, Buffer>();

/** Serves one of the package's assets; returns false when `pathname` is not one. */
export async function serveGraphiQLAsset(
  pathname: string,
  res: ServerResponse,
  req: IncomingMessage,
): Promise<boolean> {
  if (!pathname.startsWith(GRAPHIQL_ASSET_PREFIX)) return false;
  const name = pathname.slice(GRAPHIQL_ASSET_PREFIX.length);
  const type = ASSETS[name];
  if (!type) return false;
  let body = cache.get(name);
  if (!body) {
    body = await readFile(path.join(DIST, name));
    cache.set(name, body);
  }
  res.writeHead(200, {
    'content-type': type,
    'content-length': body.length,
    'cache-control': 'public, max-age=86400',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}
