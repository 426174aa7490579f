import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { printedSchema, SCHEMA_FILE } from '../src/graphql/print-schema.js';

describe('schema/schema.graphql', () => {
  it('is what the code generates (run `npm run schema:print` after changing the schema)', () => {
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(printedSchema());
  });

  it('has the contract root fields', () => {
    const sdl = printedSchema();
    for (const field of ['info:', 'health:', 'poolStats:']) expect(sdl).toContain(field);
  });
});
