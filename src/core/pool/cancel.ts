import { connect } from 'node:net';
import type pg from 'pg';

// The CancelRequest code from the PostgreSQL protocol: 1234 in the high 16 bits, 5678 in the low.
const CANCEL_REQUEST_CODE = 80877102;

/**
 * Asks the server to cancel whatever `client` is running, the way psql does on Ctrl-C: a
 * CancelRequest with the backend's pid and secret key over a fresh socket. The connection itself
 * stays usable; its running statement fails with SQLSTATE 57014.
 */
export function cancelBackend(client: pg.Client, timeoutMs = 5_000): Promise<void> {
  const c = client as unknown as {
    processID: number | null;
    secretKey: number | null;
    host: string;
    port: number;
  };
  if (c.processID === null || c.secretKey === null) return Promise.resolve();
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  packet.writeInt32BE(c.processID, 8);
  packet.writeInt32BE(c.secretKey, 12);
  return new Promise((resolve) => {
    const socket = c.host.startsWith('/') ? connect(`${c.host}/.s.PGSQL.${c.port}`) : connect(c.port, c.host);
    const done = () => {
      socket.destroy();
      resolve();
    };
    socket.setTimeout(timeoutMs, done);
    socket.once('error', done);
    socket.once('close', done);
    socket.once('connect', () => socket.end(packet));
  });
}
