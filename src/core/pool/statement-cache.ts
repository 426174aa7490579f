/**
 * The prepared statements a server connection holds under poolpilot's names, in least- to
 * most-recently used order (a Map keeps insertion order; a use moves the name to the end). The
 * wire front decides what to prepare and evict; the pool empties it when a reset (DISCARD ALL)
 * drops them on the server.
 */
export class StatementCache {
  readonly #names = new Map<string, true>();

  get size(): number {
    return this.#names.size;
  }

  /** True when the connection holds `name`; marks it as just used. */
  use(name: string): boolean {
    if (!this.#names.delete(name)) return false;
    this.#names.set(name, true);
    return true;
  }

  add(name: string): void {
    this.#names.delete(name);
    this.#names.set(name, true);
  }

  delete(name: string): void {
    this.#names.delete(name);
  }

  /** The least recently used name, the one to evict first. */
  oldest(): string | undefined {
    for (const name of this.#names.keys()) return name;
    return undefined;
  }

  clear(): void {
    this.#names.clear();
  }
}
