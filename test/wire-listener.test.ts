import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier, WireListener, type WireListenerOptions } from '../src/wire/index.js';
import {
  AnswerHandler,
  errorFields,
  RawClient,
  requestPacket,
  startupPacket,
  typed,
} from './support/wire.js';

const run = promisify(execFile);
const PASSWORD = 'correct horse';
const DATABASE = 'appdb';

function parameters() {
  return {
    server_version: '16.4',
    server_encoding: 'UTF8',
    client_encoding: 'UTF8',
    DateStyle: 'ISO, MDY',
    TimeZone: 'UTC',
    integer_datetimes: 'on',
    standard_conforming_strings: 'on',
  };
}

async function start(overrides: Partial<WireListenerOptions> = {}) {
  const handler = new AnswerHandler();
  const cancels: number[] = [];
  const listener = new WireListener({
    database: DATABASE,
    users: new Map([
      ['app', createVerifier(PASSWORD, { iterations: 4096 })],
      ['other', createVerifier('other password')],
    ]),
    maxClients: 3,
    handler,
    parameters,
    onCancel: (client) => cancels.push(client.processId),
    maxMessageBytes: 4096,
    ...overrides,
  });
  const { port } = await listener.listen(0, '127.0.0.1');
  return { listener, handler, port, cancels };
}

function client(port: number, options: pg.ClientConfig = {}) {
  const c = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'app',
    password: PASSWORD,
    database: DATABASE,
    ...options,
  });
  c.on('error', () => {});
  return c;
}

async function connectError(
  port: number,
  options: pg.ClientConfig,
): Promise<{ code?: string; message: string }> {
  const c = client(port, options);
  try {
    await c.connect();
  } catch (error) {
    return error as { code?: string; message: string };
  } finally {
    await c.end().catch(() => {});
  }
  throw new Error('connected, but an error was expected');
}

function psql(port: number, args: string[], env: Record<string, string> = {}) {
  return run('psql', ['-X', '-h', '127.0.0.1', '-p', String(port), '-v', 'ON_ERROR_STOP=1', ...args], {
    env: { PATH: process.env.PATH, PGCONNECT_TIMEOUT: '5', ...env },
    timeout: 15_000,
  }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      stdout: e.stdout,
      stderr: e.stderr,
    }),
  );
}

describe('wire front with SCRAM users', () => {
  let front: Awaited<ReturnType<typeof start>>;
  const open: pg.Client[] = [];
  beforeAll(async () => {
    front = await start();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.end().catch(() => {})));
  });
  afterAll(async () => {
    await front.listener.close();
  });

  it('lets pg in with the right password and hands it to the handler', async () => {
    const c = client(front.port, { application_name: 'wire-test' });
    open.push(c);
    await c.connect();
    const { rows } = await c.query('SELECT 42 AS answer');
    expect(rows).toEqual([{ answer: 42 }]);
    const attached = front.handler.attached.at(-1)!;
    expect(attached).toMatchObject({ user: 'app', database: DATABASE, applicationName: 'wire-test' });
    expect(attached.remoteAddress).toMatch(/127\.0\.0\.1/);
    expect((c as unknown as { processID: number }).processID).toBe(attached.processId);
    // ErrorResponse fields arrive as the driver expects them.
    const error = await c.query('SELECT * FROM fail').catch((e) => e);
    expect(error).toMatchObject({ code: '42P01', detail: 'a detail', hint: 'a hint', position: '15' });
  });

  it('lets psql in (SSLRequest answered N, then plaintext) and reports server parameters', async () => {
    const r = await psql(front.port, ['-U', 'app', '-d', DATABASE, '-At', '-c', 'SELECT 1', '-c', 'SHOW x'], {
      PGPASSWORD: PASSWORD,
      PGSSLMODE: 'prefer',
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual(['42', '42']);
    expect(r.code).toBe(0);
  });

  it('refuses a wrong password and an unknown user with the same 28P01', async () => {
    const wrong = await connectError(front.port, { password: 'nope' });
    const unknown = await connectError(front.port, { user: 'ghost', password: 'nope' });
    expect(wrong.code).toBe('28P01');
    expect(unknown.code).toBe('28P01');
    expect(wrong.message).toBe('password authentication failed for user "app"');
    expect(unknown.message).toBe('password authentication failed for user "ghost"');
    const r = await psql(front.port, ['-U', 'app', '-d', DATABASE, '-c', 'SELECT 1'], { PGPASSWORD: 'nope' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/password authentication failed for user "app"/);
  });

  it("refuses a database other than the pool's with 3D000, and the console until it exists", async () => {
    const wrongDb = await connectError(front.port, { database: 'elsewhere' });
    expect(wrongDb).toMatchObject({ code: '3D000', message: 'database "elsewhere" does not exist' });
    const console = await connectError(front.port, { database: 'pgbouncer' });
    expect(console.code).toBe('0A000');
    expect(console.message).toMatch(/admin console .* not available/);
  });

  it('closes the socket on a malformed SCRAM exchange and stays up', async () => {
    for (const garbage of [
      Buffer.from('SCRAM-SHA-256\0\0\0\0\x05hello'),
      Buffer.from('SCRAM-SHA-256\0\xff\xff\xff\xffjunk'),
      Buffer.from('MD5\0\0\0\0\x00'),
      Buffer.alloc(0),
    ]) {
      const raw = await RawClient.connect(front.port);
      raw.write(startupPacket({ user: 'app', database: DATABASE }));
      const sasl = await raw.message();
      expect(sasl?.type).toBe('R');
      expect(sasl!.body.readInt32BE(0)).toBe(10);
      expect(sasl!.body.toString('utf8', 4)).toBe('SCRAM-SHA-256\0\0');
      raw.write(typed('p', garbage));
      const error = await raw.message();
      expect(error?.type).toBe('E');
      expect(errorFields(error!.body)).toMatchObject({ S: 'FATAL', C: '08P01' });
      await raw.closedByServer();
    }
    // A bad client-final-message too.
    const raw = await RawClient.connect(front.port);
    raw.write(startupPacket({ user: 'app', database: DATABASE }));
    await raw.message();
    const first = 'n,,n=,r=abcdefgh';
    const initial = Buffer.alloc(first.length + 18);
    initial.write('SCRAM-SHA-256\0');
    initial.writeInt32BE(first.length, 14);
    initial.write(first, 18);
    raw.write(typed('p', initial));
    expect((await raw.message())?.type).toBe('R');
    raw.write(typed('p', Buffer.from('c=biws,r=wrong,p=AAAA')));
    expect(errorFields((await raw.message())!.body).C).toBe('08P01');
    await raw.closedByServer();

    const c = client(front.port);
    open.push(c);
    await c.connect();
    expect((await c.query('SELECT 1')).rows).toHaveLength(1);
  });

  it.each([
    [
      'a huge length',
      Buffer.from([0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]),
      '08P01',
      /invalid length of startup packet/,
    ],
    ['a short length', Buffer.from([0, 0, 0, 2, 0, 0, 0, 0]), '08P01', /invalid length of startup packet/],
    ['protocol 2.0', startupPacket({ user: 'app' }, 2 << 16), '0A000', /unsupported frontend protocol 2.0/],
    [
      'plaintext pipelined after SSLRequest',
      Buffer.concat([requestPacket(80877103), startupPacket({ user: 'app' })]),
      '08P01',
      /unencrypted data after SSL request/,
    ],
    ['no user name', startupPacket({ database: DATABASE }), '28000', /no PostgreSQL user name/],
    [
      'a replication connection',
      startupPacket({ user: 'app', replication: 'database' }),
      '0A000',
      /replication/,
    ],
  ])('answers %s with a clear FATAL error and closes', async (_name, packet, code, message) => {
    const raw = await RawClient.connect(front.port);
    raw.write(packet);
    const m = await raw.message();
    expect(m?.type).toBe('E');
    const fields = errorFields(m!.body);
    expect(fields).toMatchObject({ S: 'FATAL', V: 'FATAL', C: code });
    expect(fields.M).toMatch(message);
    await raw.closedByServer();
  });

  it('answers GSSENCRequest and SSLRequest with N, then reads the real startup', async () => {
    const raw = await RawClient.connect(front.port);
    raw.write(requestPacket(80877104));
    expect(await raw.byte()).toBe('N');
    raw.write(requestPacket(80877103));
    expect(await raw.byte()).toBe('N');
    raw.write(startupPacket({ user: 'app', database: DATABASE }));
    expect((await raw.message())?.type).toBe('R');
    raw.destroy();
  });

  it('negotiates newer 3.x minors and unknown _pq_ options down to 3.0', async () => {
    const raw = await RawClient.connect(front.port);
    raw.write(startupPacket({ user: 'app', database: DATABASE, '_pq_.future': 'on' }, (3 << 16) | 2));
    const v = await raw.message();
    expect(v?.type).toBe('v');
    expect(v!.body.readInt32BE(0)).toBe(0);
    expect(v!.body.readInt32BE(4)).toBe(1);
    expect(v!.body.toString('utf8', 8)).toBe('_pq_.future\0');
    expect((await raw.message())?.type).toBe('R');
    raw.destroy();
  });

  it('refuses clients beyond WIRE_MAX_CLIENTS with 53300, and cancel requests still get through', async () => {
    const clients = [client(front.port), client(front.port), client(front.port)];
    open.push(...clients);
    for (const c of clients) await c.connect();
    const full = await connectError(front.port, {});
    expect(full.code).toBe('53300');
    expect(full.message).toMatch(/too many clients already \(WIRE_MAX_CLIENTS=3\)/);

    const target = clients[1] as unknown as { processID: number; secretKey: number };
    const cancel = async (secret: number) => {
      const key = Buffer.alloc(8);
      key.writeInt32BE(target.processID, 0);
      key.writeInt32BE(secret, 4);
      const raw = await RawClient.connect(front.port);
      raw.write(requestPacket(80877102, key));
      await raw.closedByServer();
    };
    await cancel(target.secretKey ^ 1);
    expect(front.cancels).toEqual([]);
    await cancel(target.secretKey);
    expect(front.cancels).toEqual([target.processID]);
    front.cancels.length = 0;

    await clients[0]!.end();
    await expect
      .poll(async () => {
        const c = client(front.port);
        try {
          await c.connect();
          open.push(c);
          return true;
        } catch {
          return false;
        }
      })
      .toBe(true);
  });

  it('closes a client whose message exceeds the stated limit with 54000', async () => {
    const c = client(front.port);
    open.push(c);
    await c.connect();
    const closed = new Promise((resolve) => c.once('end', resolve));
    const error = await c.query(`SELECT '${'x'.repeat(5000)}'`).catch((e) => e);
    expect(error).toMatchObject({ code: '54000' });
    expect(error.message).toMatch(/exceeds the limit of 4096 bytes/);
    await closed;
  });
});

describe('wire front without users', () => {
  it('accepts loopback clients without a password', async () => {
    const front = await start({ users: new Map() });
    try {
      const c = client(front.port, { password: undefined, user: 'anyone' });
      await c.connect();
      expect((await c.query('SELECT 1')).rows).toEqual([{ answer: 42 }]);
      expect(front.handler.attached.at(-1)?.consoleRole).toBe('admin');
      await c.end();
      const r = await psql(front.port, ['-U', 'anyone', '-d', DATABASE, '-At', '-c', 'SELECT 1']);
      expect(r.stdout.trim()).toBe('42');
    } finally {
      await front.listener.close();
    }
  });
});

describe('drain', () => {
  it('lets a client finish its transaction, then closes every client with 57P01', async () => {
    const front = await start();
    try {
      const idle = client(front.port);
      const busy = client(front.port);
      await idle.connect();
      await busy.connect();
      const idleError = new Promise<{ code?: string }>((resolve) => idle.once('error', resolve));
      const busyError = new Promise<{ code?: string }>((resolve) => busy.once('error', resolve));
      await busy.query('BEGIN');
      const drained = front.listener.drain(5_000);
      expect(await idleError).toMatchObject({ code: '57P01' });
      // The busy client still works inside its transaction, then is closed once it commits.
      expect((await busy.query('SELECT 1')).rows).toHaveLength(1);
      const refused = await connectError(front.port, {});
      expect(refused.message).toMatch(/ECONNREFUSED|shutting down/);
      await busy.query('COMMIT');
      expect(await busyError).toMatchObject({ code: '57P01' });
      await drained;
      expect(front.listener.clientCount).toBe(0);
    } finally {
      await front.listener.close();
    }
  });
});
