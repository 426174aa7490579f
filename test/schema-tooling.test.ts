import { execFileSync } from 'node:child_process';
import { buildSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import { printedSchema } from '../src/graphql/print-schema.js';
import { schema } from '../src/graphql/schema.js';
import { baseRevision, breakingChanges, sdlAt } from '../src/graphql/schema-breaking.js';
import { descriptionCoverage } from '../src/graphql/schema-coverage.js';

const BASE = `
  "The root."
  type Query {
    "Kept."
    kept: String!
    "Going away without notice."
    dropped: Int!
    "Going away after a deprecation."
    retired: Int! @deprecated(reason: "Use kept.")
    "A string of the literals A and B."
    kind: String!
    "A counter."
    count: Int!
  }
`;

describe('the schema', () => {
  it('describes every type, field, argument and enum value', () => {
    const coverage = descriptionCoverage(schema);
    expect(coverage.missing).toEqual([]);
    expect(coverage.fields.total).toBeGreaterThan(500);
  });

  it('lists the contract error codes with what they mean', () => {
    const codes = buildSchema(printedSchema()).getType('ErrorCode');
    const values = codes && 'getValues' in codes ? codes.getValues() : [];
    expect(values.map((v) => v.name).sort()).toEqual(
      [
        'BAD_REQUEST',
        'BAD_SQL',
        'BAD_USER_INPUT',
        'DB_UNAVAILABLE',
        'FORBIDDEN',
        'INTERNAL',
        'OPTIMIZATION_NOT_FOUND',
        'QUERY_TIMEOUT',
        'QUEUE_FULL',
        'UNAUTHENTICATED',
      ].sort(),
    );
    for (const value of values) expect(value.description).toBeTruthy();
  });

  it('passes the schema linter (descriptions, naming)', () => {
    const out = execFileSync('npx', ['graphql-schema-linter', 'schema/schema.graphql'], { encoding: 'utf8' });
    expect(out).toContain('0 errors detected');
  });
});

describe('the breaking-change guard', () => {
  it('fails a removed field that was not deprecated, and lets a deprecated one go', async () => {
    const next = buildSchema(`
      "The root."
      type Query {
        "Kept."
        kept: String!
        "A string of the literals A and B."
        kind: String!
        "A counter."
        count: Int!
      }
    `);
    const { breaking, dangerous } = await breakingChanges(BASE, next);
    expect(breaking.map((c) => c.path)).toEqual(['Query.dropped']);
    expect(dangerous.map((c) => c.path)).toContain('Query.retired');
  });

  it('lets a String become an enum and an Int become SafeInt (the same JSON), not a String become an Int', async () => {
    const next = buildSchema(`
      "The root."
      type Query {
        "Kept."
        kept: Int!
        "Going away without notice."
        dropped: Int!
        "Going away after a deprecation."
        retired: Int! @deprecated(reason: "Use kept.")
        "A or B."
        kind: Kind!
        "A counter."
        count: SafeInt!
      }
      "The literals."
      enum Kind { "a" A "b" B }
      "Whole numbers up to 2^53 - 1."
      scalar SafeInt
    `);
    const { breaking, dangerous } = await breakingChanges(BASE, next);
    expect(breaking.map((c) => c.path)).toEqual(['Query.kept']);
    expect(dangerous.map((c) => c.path)).toEqual(expect.arrayContaining(['Query.kind', 'Query.count']));
  });

  it('finds no breaking change between the base revision and the code', async () => {
    const base = baseRevision();
    const sdl = base === null ? null : sdlAt(base);
    if (sdl === null) return; // no git history here (an exported tarball): nothing to compare
    const { breaking } = await breakingChanges(sdl);
    expect(breaking.map((c) => c.message)).toEqual([]);
  });
});
