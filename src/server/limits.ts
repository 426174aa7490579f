import { EnvelopArmor } from '@escape.tech/graphql-armor';
import type { Plugin } from 'graphql-yoga';
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
} as const;

export function useOperationLimits(): Plugin[] {
  const armor = new EnvelopArmor({
    maxDepth: { n: OPERATION_LIMITS.maxDepth, ignoreIntrospection: true },
    maxAliases: { n: OPERATION_LIMITS.maxAliases },
    maxTokens: { n: OPERATION_LIMITS.maxTokens },
    maxDirectives: { n: OPERATION_LIMITS.maxDirectives },
    costLimit: { maxCost: OPERATION_LIMITS.maxCost, ignoreIntrospection: true },
    blockFieldSuggestion: { enabled: false },
  });
  return [...(armor.protect().plugins as Plugin[]), useBadUserInputCodes()];
}
