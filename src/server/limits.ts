import { EnvelopArmor } from '@escape.tech/graphql-armor';
import { GraphQLError, Kind, type SelectionSetNode, type ValidationRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ErrorCode } from '../core/index.js';
import { useBadUserInputCodes } from '../graphql/errors.js';

/**
 * Operation limits (graphql-armor) and the BAD_USER_INPUT code on everything rejected before
 * execution. The figures leave room for every real dashboard query and GraphiQL's introspection
 * (exempt from depth) while refusing the pathological: deeply nested selections, alias floods,
 * documents of tens of thousands of tokens.
 */
export const OPERATION_LIMITS = {
  maxDepth: 12,
  maxAliases: 30,
  maxTokens: 5_000,
  maxDirectives: 50,
  maxCost: 10_000,
  /** executeQuery, executeTransaction and analyzeQuery fields in one operation (they run one after another). */
  maxStatementFields: 10,
} as const;

/** The root fields that send SQL (or an EXPLAIN of it) to the database. */
export const STATEMENT_FIELDS: readonly string[] = ['executeQuery', 'executeTransaction', 'analyzeQuery'];

/**
 * A mutation's root fields run one after another, so a request with hundreds of aliased
 * executeQuery fields holds its caller's place for as long as all of them take. Counted by
 * response key through fragments: fields under one key are merged and run once.
 */
export function statementFieldLimit(max: number): ValidationRule {
  return (context) => ({
    OperationDefinition(operation) {
      if (operation.operation !== 'mutation') return; // the statement fields are Mutation fields
      const keys = new Set<string>();
      const visited = new Set<string>();
      const collect = (set: SelectionSetNode): void => {
        for (const selection of set.selections) {
          if (selection.kind === Kind.FIELD) {
            if (STATEMENT_FIELDS.includes(selection.name.value)) {
              keys.add(selection.alias?.value ?? selection.name.value);
            }
          } else if (selection.kind === Kind.INLINE_FRAGMENT) {
            collect(selection.selectionSet);
          } else if (!visited.has(selection.name.value)) {
            visited.add(selection.name.value);
            const fragment = context.getFragment(selection.name.value);
            if (fragment) collect(fragment.selectionSet);
          }
        }
      };
      collect(operation.selectionSet);
      if (keys.size > max) {
        context.reportError(
          new GraphQLError(
            `at most ${max} ${STATEMENT_FIELDS.join('/')} fields per operation; got ${keys.size} (send the rest in another request)`,
            { nodes: [operation], extensions: { code: ErrorCode.BadUserInput, limit: max } },
          ),
        );
      }
    },
  });
}

export function useOperationLimits(): Plugin[] {
  const armor = new EnvelopArmor({
    maxDepth: { n: OPERATION_LIMITS.maxDepth, ignoreIntrospection: true },
    maxAliases: { n: OPERATION_LIMITS.maxAliases },
    maxTokens: { n: OPERATION_LIMITS.maxTokens },
    maxDirectives: { n: OPERATION_LIMITS.maxDirectives },
    costLimit: { maxCost: OPERATION_LIMITS.maxCost, ignoreIntrospection: true },
    blockFieldSuggestion: { enabled: false },
  });
  const statementFields = statementFieldLimit(OPERATION_LIMITS.maxStatementFields);
  const statementLimit: Plugin = {
    onValidate: ({ addValidationRule }) => addValidationRule(statementFields),
  };
  return [...(armor.protect().plugins as Plugin[]), statementLimit, useBadUserInputCodes()];
}
