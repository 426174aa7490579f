import { writeFileSync } from 'node:fs';
import { printSchema } from 'graphql';
import { schema } from './schema.js';

/** Writes the SDL that is checked in; `test/schema-drift.test.ts` fails when they differ. */
export const SCHEMA_FILE = new URL('../../schema/schema.graphql', import.meta.url);

export function printedSchema(): string {
  return `${printSchema(schema)}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(SCHEMA_FILE, printedSchema());
  console.log(`wrote ${SCHEMA_FILE.pathname}`);
}
