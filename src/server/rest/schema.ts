import {
  type GraphQLNamedType,
  GraphQLObjectType,
  GraphQLSchema,
  isInterfaceType,
  isObjectType,
} from 'graphql';
import type { RestRoute } from './routes.js';

/**
 * The schema the REST routes are generated from: the same field objects (resolvers and auth
 * scopes included) under roots that hold only the routed fields, so nothing else becomes a route
 * and the OpenAPI document describes only what is served.
 */
export function restSchema(schema: GraphQLSchema, routes: readonly RestRoute[]): GraphQLSchema {
  const query = pickFields(schema.getQueryType(), 'Query', routes);
  const mutation = pickFields(schema.getMutationType(), 'Mutation', routes);
  if (!query) throw new Error('the REST routes need at least one Query field');
  const reachable = new GraphQLSchema({ query, mutation });
  // An interface's implementations are not reachable through it: add those of the interfaces in use.
  const interfaces = new Set(
    Object.values(reachable.getTypeMap())
      .filter(isInterfaceType)
      .map((t) => t.name),
  );
  const implementations = Object.values(schema.getTypeMap()).filter(
    (t): t is GraphQLObjectType =>
      isObjectType(t) && t.getInterfaces().some((i) => interfaces.has(i.name)) && !isRoot(schema, t),
  );
  return new GraphQLSchema({ query, mutation, types: implementations, directives: schema.getDirectives() });
}

function pickFields(
  type: GraphQLObjectType | null | undefined,
  kind: 'Query' | 'Mutation',
  routes: readonly RestRoute[],
): GraphQLObjectType | undefined {
  const names = routes
    .filter((r) => r.field.startsWith(`${kind}.`))
    .map((r) => r.field.slice(kind.length + 1));
  if (names.length === 0) return undefined;
  if (!type) throw new Error(`REST routes name ${kind} fields but the schema has no ${kind} type`);
  const config = type.toConfig();
  const fields: typeof config.fields = {};
  for (const name of names) {
    const field = config.fields[name];
    if (!field) throw new Error(`a REST route names ${kind}.${name}, which the schema does not have`);
    fields[name] = field;
  }
  return new GraphQLObjectType({ ...config, fields });
}

function isRoot(schema: GraphQLSchema, type: GraphQLNamedType): boolean {
  return [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].includes(
    type as GraphQLObjectType,
  );
}
