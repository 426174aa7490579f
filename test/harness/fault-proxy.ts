import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

/**
 * What the proxy does to traffic:
 * - `pass`: forwards both ways;
 * - `delay`: forwards both ways, every chunk `ms` late (order kept);
 * - `drop`: a stall: bytes both ways are swallowed and every socket stays open (half-open as the
 *   peers see it); new connections are accepted and stall the same way;
 * - `blackhole`: connections already open pass, new ones are accepted and never answered;
 * - `reset`: new connections are reset at once (as `reset()` does to the open ones).
 */
export type FaultMode =
  | { kind: 'pass' }
  | { kind: 'delay'; ms: number }
  | { kind: 'drop' }
  | { kind: 'blackhole' }
  | { kind: 'reset' };

interface Link {
  client: Socket;
  server: Socket | null;
  /** Bytes from the server to the client since `resetAfter` was armed. */
  downstream: number;
  /** Swallows everything from now on (a stall). */
  stalled: boolean;
}

/**
 * An in-process TCP proxy between poolpilot and one PostgreSQL server, for network-fault tests:
 * every connection poolpilot opens (pools, health checks, cancel requests) goes through it.
 */
export class FaultProxy {
  readonly #server: Server;
  readonly #targetHost: string;
  readonly #targetPort: number;
  readonly #links = new Set<Link>();
  #mode: FaultMode = { kind: 'pass' };
  #resetAfter: number | null = null;
  /** Connections reset by `resetAfter`, for the test to check that it happened. */
  resets = 0;

  private constructor(targetHost: string, targetPort: number) {
    this.#targetHost = targetHost;
    this.#targetPort = targetPort;
    this.#server = createServer((client) => this.#accept(client));
  }

  /** A proxy on a free loopback port in front of the server `url` names. */
  static async start(url: string): Promise<FaultProxy> {
    const u = new URL(url);
    const proxy = new FaultProxy(u.hostname, Number(u.port || 5432));
    await new Promise<void>((resolve, reject) => {
      proxy.#server.once('error', reject);
      proxy.#server.listen(0, '127.0.0.1', () => resolve());
    });
    return proxy;
  }

  get port(): number {
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('the proxy is not listening');
    return address.port;
  }

  /** `url` pointed at the proxy instead of the server. */
  url(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  /** Open client connections. */
  get connections(): number {
    return this.#links.size;
  }

  set(mode: FaultMode): void {
    const wasStalling = this.#mode.kind === 'drop';
    this.#mode = mode;
    if (mode.kind === 'drop') for (const link of this.#links) link.stalled = true;
    if (mode.kind === 'reset') this.reset();
    // Bytes were lost both ways: those connections cannot go on. Drop them as a network would.
    if (wasStalling && mode.kind !== 'drop')
      for (const link of this.#links) if (link.stalled) this.#destroy(link);
  }

  /** Resets every open connection (RST both ways). */
  reset(): void {
    for (const link of this.#links) this.#destroy(link);
  }

  /**
   * Resets a connection once it has carried `bytes` from the server to the client from now on:
   * a reset in the middle of a large result. Once per arming.
   */
  resetAfter(bytes: number): void {
    this.#resetAfter = bytes;
    for (const link of this.#links) link.downstream = 0;
  }

  async close(): Promise<void> {
    this.reset();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    client.setNoDelay(true);
    const link: Link = { client, server: null, downstream: 0, stalled: false };
    this.#links.add(link);
    client.on('error', () => this.#destroy(link));
    client.on('close', () => this.#destroy(link));
    const mode = this.#mode;
    if (mode.kind === 'reset') {
      this.#destroy(link);
      return;
    }
    if (mode.kind === 'drop' || mode.kind === 'blackhole') {
      // Accepted, never answered: the peer sees an open connection that says nothing.
      link.stalled = true;
      client.on('data', () => undefined);
      return;
    }
    const server = tcpConnect(this.#targetPort, this.#targetHost);
    server.setNoDelay(true);
    link.server = server;
    server.on('error', () => this.#destroy(link));
    server.on('close', () => this.#destroy(link));
    client.on('data', (chunk) => this.#relay(link, chunk, server));
    server.on('data', (chunk) => {
      this.#relay(link, chunk, client);
      if (this.#resetAfter === null || link.stalled) return;
      link.downstream += chunk.length;
      if (link.downstream >= this.#resetAfter) {
        this.#resetAfter = null;
        this.resets += 1;
        this.#destroy(link);
      }
    });
  }

  #relay(link: Link, chunk: Buffer, to: Socket): void {
    if (link.stalled) return;
    const mode = this.#mode;
    if (mode.kind === 'delay') {
      setTimeout(() => {
        if (!link.stalled && !to.destroyed) to.write(chunk);
      }, mode.ms);
      return;
    }
    if (!to.destroyed) to.write(chunk);
  }

  #destroy(link: Link): void {
    if (!this.#links.delete(link)) return;
    for (const socket of [link.client, link.server]) {
      if (!socket || socket.destroyed) continue;
      try {
        socket.resetAndDestroy();
      } catch {
        socket.destroy(); // not connected yet: nothing to reset
      }
    }
  }
}
