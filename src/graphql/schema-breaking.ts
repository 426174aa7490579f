import { execFileSync } from 'node:child_process';
import { type Change, CriticalityLevel, DiffRule, diff, type Rule } from '@graphql-inspector/core';
import {
  buildSchema,
  type GraphQLSchema,
  getNamedType,
  isEnumType,
  isListType,
  isNonNullType,
  printSchema,
} from 'graphql';
import { schema as currentSchema } from './schema.js';

/**
 * The breaking-change guard: the schema the code generates, diffed against the checked-in SDL of a
 * base revision. A breaking change fails unless what it removes was deprecated there first
 * (`@deprecated`, then removal in a later release), so clients get a release to move.
 */

const SDL_PATH = 'schema/schema.graphql';

/** Where the base SDL comes from: SCHEMA_BASE_REF, else where this branch left main, else the previous commit. */
export function baseRevision(cwd = process.cwd()): string | null {
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return null;
    }
  };
  const head = git('rev-parse', 'HEAD');
  if (head === null) return null;
  const wanted = process.env.SCHEMA_BASE_REF?.trim();
  if (wanted) return git('rev-parse', '--verify', `${wanted}^{commit}`);
  for (const main of ['origin/main', 'main']) {
    const base = git('merge-base', 'HEAD', main);
    // On main itself the merge base is HEAD: compare with the commit before it instead.
    if (base !== null && base !== head) return base;
  }
  return git('rev-parse', '--verify', 'HEAD~1^{commit}') ?? head;
}

export function sdlAt(revision: string, cwd = process.cwd()): string | null {
  try {
    return execFileSync('git', ['show', `${revision}:${SDL_PATH}`], {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    return null;
  }
}

/**
 * An output field whose JSON stays the same is no break for anyone reading it: a String that became
 * an enum of the same literals, or a Float/Int that became SafeInt (a JSON number either way).
 */
const sameJsonOnTheWire: Rule = ({ changes, oldSchema, newSchema }) =>
  changes.map((change) => {
    if (change.type !== 'FIELD_TYPE_CHANGED' || change.criticality.level !== CriticalityLevel.Breaking) {
      return change;
    }
    const meta = change.meta as { typeName: string; fieldName: string };
    const before = fieldType(oldSchema, meta.typeName, meta.fieldName);
    const after = fieldType(newSchema, meta.typeName, meta.fieldName);
    if (!before || !after || shape(before) !== shape(after)) return change;
    const from = getNamedType(before);
    const to = getNamedType(after);
    const widened =
      (from.name === 'String' && isEnumType(to)) ||
      ((from.name === 'Float' || from.name === 'Int') && to.name === 'SafeInt');
    if (!widened) return change;
    return {
      ...change,
      criticality: { level: CriticalityLevel.Dangerous, reason: 'The same JSON on the wire for readers.' },
    };
  });

type FieldType = Parameters<typeof getNamedType>[0] & object;

function fieldType(schema: GraphQLSchema | null, typeName: string, fieldName: string): FieldType | null {
  const type = schema?.getType(typeName);
  if (!type || !('getFields' in type)) return null;
  return (type.getFields()[fieldName]?.type as FieldType | undefined) ?? null;
}

/** The wrapping of a type (list, non-null), without the named type: `[_!]!`. */
function shape(type: FieldType): string {
  if (isNonNullType(type)) return `${shape(type.ofType as FieldType)}!`;
  if (isListType(type)) return `[${shape(type.ofType as FieldType)}]`;
  return '_';
}

export async function breakingChanges(
  oldSdl: string,
  newSchema: GraphQLSchema = currentSchema,
): Promise<{ breaking: Change[]; dangerous: Change[] }> {
  // Both sides from SDL, so only what a client can see is compared.
  const changes = await diff(buildSchema(oldSdl), buildSchema(printSchema(newSchema)), [
    DiffRule.suppressRemovalOfDeprecatedField,
    sameJsonOnTheWire,
  ]);
  return {
    breaking: changes.filter((c) => c.criticality.level === CriticalityLevel.Breaking),
    dangerous: changes.filter((c) => c.criticality.level === CriticalityLevel.Dangerous),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const base = baseRevision();
  const sdl = base === null ? null : sdlAt(base);
  if (base === null || sdl === null) {
    console.log(
      `schema:breaking: no base ${SDL_PATH} in git history (a fresh repository?): nothing to compare`,
    );
  } else {
    const { breaking, dangerous } = await breakingChanges(sdl);
    const atHead = base === execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    const where =
      `against ${SDL_PATH} at ${base.slice(0, 12)}` +
      (atHead ? ' (no earlier revision in this clone: only uncommitted changes are checked)' : '');
    for (const c of dangerous) console.log(`  dangerous: ${c.message}`);
    if (breaking.length > 0) {
      for (const c of breaking) console.error(`  BREAKING: ${c.message}`);
      console.error(
        `schema:breaking: ${breaking.length} breaking change(s) ${where}. Keep the old field or value ` +
          'with @deprecated(reason) (Pothos: deprecationReason) and remove it in a later release.',
      );
      process.exitCode = 1;
    } else {
      console.log(`schema:breaking: no breaking change ${where} (${dangerous.length} dangerous)`);
    }
  }
}
