#!/usr/bin/env node
// The `poolpilot` command. From a source checkout it runs the TypeScript through tsx (a runtime
// dependency); from a build without src/ (the Docker image) it runs the compiled dist/.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
let cli;
if (existsSync(source)) {
  const { tsImport } = await import('tsx/esm/api');
  cli = await tsImport(source.href, import.meta.url);
} else {
  cli = await import(new URL('../dist/cli/main.js', import.meta.url).href);
}
await cli.run(process.argv);
