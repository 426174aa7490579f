import { createServer } from 'node:net';

/** `preferred` when nothing listens on it, otherwise a port the kernel picks. */
export async function freePort(preferred = 0, host = '127.0.0.1'): Promise<number> {
  const tryPort = (port: number) =>
    new Promise<number | null>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(null));
      server.listen(port, host, () => {
        const address = server.address();
        const chosen = typeof address === 'object' && address ? address.port : null;
        server.close(() => resolve(chosen));
      });
    });
  if (preferred > 0) {
    const port = await tryPort(preferred);
    if (port !== null) return port;
  }
  const port = await tryPort(0);
  if (port === null) throw new Error('no free TCP port on loopback');
  return port;
}
