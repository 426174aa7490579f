import { readFileSync } from 'node:fs';
import {
  buildSchema,
  type GraphQLSchema,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isIntrospectionType,
  isObjectType,
  isSpecifiedScalarType,
} from 'graphql';

/** Described / total per kind of schema element, for the docs explorer's sake. */
export interface DescriptionCoverage {
  types: { described: number; total: number };
  fields: { described: number; total: number };
  arguments: { described: number; total: number };
  enumValues: { described: number; total: number };
  /** Every element without a description, as Type, Type.field, Type.field(arg) or Enum.VALUE. */
  missing: string[];
}

export function descriptionCoverage(schema: GraphQLSchema): DescriptionCoverage {
  const c: DescriptionCoverage = {
    types: { described: 0, total: 0 },
    fields: { described: 0, total: 0 },
    arguments: { described: 0, total: 0 },
    enumValues: { described: 0, total: 0 },
    missing: [],
  };
  const count = (kind: Exclude<keyof DescriptionCoverage, 'missing'>, name: string, text: unknown) => {
    c[kind].total += 1;
    if (typeof text === 'string' && text.trim() !== '') c[kind].described += 1;
    else c.missing.push(name);
  };
  for (const type of Object.values(schema.getTypeMap())) {
    if (isIntrospectionType(type) || isSpecifiedScalarType(type)) continue;
    count('types', type.name, type.description);
    if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) {
        count('fields', `${type.name}.${field.name}`, field.description);
        for (const arg of 'args' in field ? field.args : []) {
          count('arguments', `${type.name}.${field.name}(${arg.name})`, arg.description);
        }
      }
    }
    if (isEnumType(type)) {
      for (const value of type.getValues())
        count('enumValues', `${type.name}.${value.name}`, value.description);
    }
  }
  return c;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file =
    process.argv.slice(2).find((a) => !a.startsWith('--')) ??
    new URL('../../schema/schema.graphql', import.meta.url).pathname;
  const c = descriptionCoverage(buildSchema(readFileSync(file, 'utf8')));
  for (const kind of ['types', 'fields', 'arguments', 'enumValues'] as const) {
    console.log(`${kind}: ${c[kind].described} of ${c[kind].total} described`);
  }
  if (process.argv.includes('--missing')) for (const name of c.missing) console.log(`  ${name}`);
}
