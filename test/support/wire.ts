import net from 'node:net';
import {
  type ClientHandler,
  type ClientSession,
  commandComplete,
  dataRow,
  errorResponse,
  Frontend,
  readyForQuery,
  rowDescription,
  TypeOid,
  type WireClient,
} from '../../src/wire/index.js';

/**
 * A test double for the proxy behind the wire front: answers each simple Query itself, with a
 * one-row result, or an ErrorResponse when the query text contains "fail". `BEGIN` makes the
 * client busy (for drain) until `COMMIT`.
 */
export class AnswerHandler implements ClientHandler {
  readonly attached: WireClient[] = [];
  attach(client: WireClient): ClientSession {
    this.attached.push(client);
    let inTransaction = false;
    return {
      message(type, body) {
        if (type === Frontend.Terminate) {
          client.socket.end();
          return;
        }
        if (type !== Frontend.Query) {
          client.error({
            code: '0A000',
            message: `test handler: message ${String.fromCharCode(type)} not handled`,
          });
          client.send(readyForQuery(inTransaction ? 'T' : 'I'));
          return;
        }
        const sql = body.toString('utf8', 0, body.length - 1);
        if (/^begin/i.test(sql)) inTransaction = true;
        if (/^commit/i.test(sql)) inTransaction = false;
        if (sql.includes('fail')) {
          client.send(
            errorResponse({
              severity: 'ERROR',
              code: '42P01',
              message: 'relation "fail" does not exist',
              detail: 'a detail',
              hint: 'a hint',
              position: 15,
            }),
          );
        } else {
          client.send(
            Buffer.concat([
              rowDescription([{ name: 'answer', typeOid: TypeOid.int4, typeSize: 4 }]),
              dataRow(['42']),
              commandComplete('SELECT 1'),
            ]),
          );
        }
        client.send(readyForQuery(inTransaction ? 'T' : 'I'));
      },
      closed() {},
      busy: () => inTransaction,
    };
  }
}

export interface RawMessage {
  type: string;
  body: Buffer;
}

/** A raw TCP client for what no driver would send: reads backend messages and the close. */
export class RawClient {
  readonly socket: net.Socket;
  private buf = Buffer.alloc(0);
  closed = false;
  private waiters: (() => void)[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  private wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  private async wait(timeoutMs: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for the server')), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  write(data: Buffer): void {
    this.socket.write(data);
  }

  /** One byte answer to SSLRequest/GSSENCRequest. */
  async byte(timeoutMs = 5000): Promise<string> {
    while (this.buf.length < 1) {
      if (this.closed) throw new Error('closed');
      await this.wait(timeoutMs);
    }
    const b = String.fromCharCode(this.buf[0]!);
    this.buf = this.buf.subarray(1);
    return b;
  }

  /** The next backend message, or null once the server closed the connection. */
  async message(timeoutMs = 5000): Promise<RawMessage | null> {
    for (;;) {
      if (this.buf.length >= 5) {
        const len = this.buf.readInt32BE(1);
        if (this.buf.length >= len + 1) {
          const m = { type: String.fromCharCode(this.buf[0]!), body: this.buf.subarray(5, len + 1) };
          this.buf = this.buf.subarray(len + 1);
          return m;
        }
      }
      if (this.closed) return null;
      await this.wait(timeoutMs);
    }
  }

  /** Waits until the server closes the connection. */
  async closedByServer(timeoutMs = 5000): Promise<void> {
    while (!this.closed) await this.wait(timeoutMs);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** The fields of an ErrorResponse body, by their one-letter tags. */
export function errorFields(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const end = body.indexOf(0, at + 1);
    out[String.fromCharCode(body[at]!)] = body.toString('utf8', at + 1, end);
    at = end + 1;
  }
  return out;
}

export function startupPacket(params: Record<string, string>, version = 196608): Buffer {
  const body = Buffer.from(
    `${Object.entries(params)
      .map(([k, v]) => `${k}\0${v}\0`)
      .join('')}\0`,
  );
  const head = Buffer.alloc(8);
  head.writeInt32BE(body.length + 8, 0);
  head.writeInt32BE(version, 4);
  return Buffer.concat([head, body]);
}

export function requestPacket(code: number, extra: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(8);
  b.writeInt32BE(8 + extra.length, 0);
  b.writeInt32BE(code, 4);
  return Buffer.concat([b, extra]);
}

export function typed(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = type.charCodeAt(0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}
