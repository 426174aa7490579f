import DataLoader from 'dataloader';
import type { Analysis } from '../../core/analyzer/index.js';
import type { Context } from '../context.js';

/**
 * Per-request loaders, created on first use and dropped with the request's context: a page of
 * slow queries asks for its analyses in one batch (duplicates once), and nothing leaks between
 * requests or viewers.
 */
export interface InsightLoaders {
  analysis: DataLoader<string, Analysis>;
}

const byContext = new WeakMap<Context, InsightLoaders>();

/** Batches and keys loaded since start-up, for /metrics and for asserting the batching. */
export const analysisBatching = { batches: 0, keys: 0, largestBatch: 0 };

export function insightLoaders(ctx: Context): InsightLoaders {
  let loaders = byContext.get(ctx);
  if (!loaders) {
    const analyzer = ctx.poolpilot.analyzer;
    loaders = {
      analysis: new DataLoader<string, Analysis>(
        async (texts) => {
          analysisBatching.batches += 1;
          analysisBatching.keys += texts.length;
          analysisBatching.largestBatch = Math.max(analysisBatching.largestBatch, texts.length);
          // Cached analyses cost nothing; the rest are planned concurrently, bounded by the pool.
          const settled = await Promise.allSettled(
            texts.map((sql) => analyzer.peek(sql) ?? analyzer.analyze(sql)),
          );
          return settled.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error)));
        },
        { maxBatchSize: 500 },
      ),
    };
    byContext.set(ctx, loaders);
  }
  return loaders;
}
