import type { RouteClass } from '../analyzer/index.js';
import type { Route } from './router.js';

/** How many statements (or units of work) went where, by complexity class and target. */
export interface RouteCount {
  class: RouteClass;
  target: string;
  /** Of `count`: those that waited for a complex-query slot. */
  queued: number;
  count: number;
}

/**
 * The routes actually taken since start-up, counted once per statement run through
 * executeQuery and once per wire unit of work, after any fallback to the primary.
 */
export class RouteCounts {
  /** target → class → count: two lookups and no allocation per unit of work. */
  readonly #counts = new Map<string, Map<RouteClass, RouteCount>>();

  add(route: Route): void {
    let byClass = this.#counts.get(route.target);
    if (!byClass) {
      byClass = new Map();
      this.#counts.set(route.target, byClass);
    }
    let entry = byClass.get(route.class);
    if (!entry) {
      entry = { class: route.class, target: route.target, queued: 0, count: 0 };
      byClass.set(route.class, entry);
    }
    entry.count += 1;
    if (route.queued) entry.queued += 1;
  }

  /** Sorted by target, then class. */
  list(): RouteCount[] {
    return [...this.#counts.values()]
      .flatMap((byClass) => [...byClass.values()].map((c) => ({ ...c })))
      .sort((a, b) => a.target.localeCompare(b.target) || a.class.localeCompare(b.class));
  }
}
