import { readFileSync } from 'node:fs';
import { Kind, type OperationDefinitionNode, parse } from 'graphql';

/**
 * The README's runnable examples, found by their code fences so that an example added later is
 * covered without touching the test:
 * - every ```graphql block, split into its operations (a reader pastes one at a time);
 * - every ```bash / ```sh block that calls the service with curl on port 3338.
 * A block preceded (last non-blank line before its fence) by
 * `<!-- readme-example: illustrative ... -->` is not run: say why in the comment.
 */
export const ILLUSTRATIVE = /<!--\s*readme-example:\s*illustrative\b/;

export interface Block {
  lang: string;
  /** 1-based line of the opening fence. */
  line: number;
  text: string;
  illustrative: boolean;
}

export interface GraphqlExample {
  line: number;
  kind: 'query' | 'mutation' | 'subscription';
  /** The operation's own source, exactly as written. */
  source: string;
  /** The root fields it selects, for assertions and test names. */
  fields: string[];
}

export interface ShellExample {
  line: number;
  source: string;
}

export function readmeBlocks(file: string): Block[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    let end = i + 1;
    while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end++;
    let before = i - 1;
    while (before >= 0 && lines[before]!.trim() === '') before--;
    blocks.push({
      lang: open[1]!,
      line: i + 1,
      text: lines.slice(i + 1, end).join('\n'),
      illustrative: before >= 0 && ILLUSTRATIVE.test(lines[before]!),
    });
    i = end;
  }
  return blocks;
}

export function graphqlExamples(blocks: Block[]): GraphqlExample[] {
  return blocks
    .filter((b) => b.lang === 'graphql' && !b.illustrative)
    .flatMap((b) =>
      parse(b.text).definitions.map((d) => {
        if (d.kind !== Kind.OPERATION_DEFINITION) throw new Error(`README line ${b.line}: not an operation`);
        const op = d as OperationDefinitionNode;
        return {
          line: b.line + (op.loc?.startToken.line ?? 1),
          kind: op.operation,
          source: b.text.slice(op.loc!.start, op.loc!.end),
          fields: op.selectionSet.selections.flatMap((s) => (s.kind === Kind.FIELD ? [s.name.value] : [])),
        };
      }),
    );
}

const CALLS_SERVICE = /\bcurl\b[^\n]*(127\.0\.0\.1|localhost):3338/;

export function shellExamples(blocks: Block[]): ShellExample[] {
  return blocks
    .filter((b) => (b.lang === 'bash' || b.lang === 'sh') && !b.illustrative && CALLS_SERVICE.test(b.text))
    .map((b) => ({ line: b.line, source: b.text }));
}
