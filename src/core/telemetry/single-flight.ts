/**
 * Wraps `run` so that calls made while one is in flight share its result instead of starting
 * another: samplers of one stream at different intervals then never hold more than one pooled
 * connection between them, however many intervals are subscribed.
 */
export function singleFlight<T>(run: () => Promise<T>): () => Promise<T> {
  let inFlight: Promise<T> | null = null;
  return () => {
    inFlight ??= run().finally(() => {
      inFlight = null;
    });
    return inFlight;
  };
}
