import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import pg from 'pg';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import { silentLogger } from '../src/core/index.js';
import { ServerConnection } from '../src/core/pool/server-connection.js';
import { serverUser } from '../src/embedded/index.js';
import { ScramExchange, ScramProtocolError } from '../src/wire/scram-exchange.js';
import { createVerifier } from '../src/wire/scram-verifier.js';
import { WireSurface } from '../src/wire/wire-surface.js';
import { type EmbeddedCluster, startEmbeddedCluster } from '../support/postgres-cluster.js';
import { psql, type RunningWire, startWire, WIRE_PASSWORD, WIRE_USER } from './harness/wire.js';

/** The machine's own non-loopback IPv4 address: connecting to it makes a non-loopback client. */
function ownAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  throw new Error('this test needs a non-loopback IPv4 address on the machine');
}

const dir = mkdtempSync(join(tmpdir(), 'pp-tls-'));
const file = (name: string) => join(dir, name);
const address = ownAddress();

/** A CA, a server certificate it signed (for `names`), and an unrelated CA; made with openssl. */
function makeCertificates(): void {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const ca of ['ca', 'other-ca']) {
    openssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      `${ca}.key`,
      '-out',
      `${ca}.crt`,
      '-subj',
      `/CN=${ca}`,
      '-days',
      '2',
    );
  }
  const server = (name: string, san: string, ca = 'ca') => {
    openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=localhost');
    writeFileSync(file(`${name}.ext`), `subjectAltName=${san}\n`);
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.crt`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    );
  };
  // The front: reachable by name, on loopback and on the machine's own address.
  server('front', `DNS:localhost,IP:127.0.0.1,IP:${address}`);
  // The PostgreSQL server behind: by name only, so verify-ca and verify-full tell apart.
  server('pg', 'DNS:localhost');
  // A renewed certificate for the front, from another CA: RELOAD picks it up.
  server('renewed', `DNS:localhost,IP:127.0.0.1,IP:${address}`, 'other-ca');
}

makeCertificates();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function startup(user: string, database: string): Buffer {
  const body = Buffer.from(`user\0${user}\0database\0${database}\0\0`);
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(196_608, 4);
  return Buffer.concat([head, body]);
}

const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/** Reads from `socket` until it closes or `enough` says so; the bytes read. */
function readUntil(socket: net.Socket, enough: (bytes: Buffer) => boolean): Promise<Buffer> {
  return new Promise((resolve) => {
    let bytes = Buffer.alloc(0);
    const done = () => resolve(bytes);
    socket.on('data', (chunk: Buffer) => {
      bytes = Buffer.concat([bytes, chunk]);
      if (enough(bytes)) done();
    });
    socket.once('close', done);
    socket.once('error', done);
  });
}

/** The message of an ErrorResponse at the start of `bytes`. */
function errorOf(bytes: Buffer): { code: string; message: string } | null {
  if (bytes[0] !== 0x45) return null;
  const fields: Record<string, string> = {};
  let at = 5;
  while (at < bytes.length && bytes[at] !== 0) {
    const end = bytes.indexOf(0, at + 1);
    fields[String.fromCharCode(bytes[at]!)] = bytes.toString('utf8', at + 1, end);
    at = end + 1;
  }
  return { code: fields.C ?? '', message: fields.M ?? '' };
}

describe('TLS with clients (WIRE_TLS_CERT, WIRE_TLS_KEY)', () => {
  let front: RunningWire;
  let open: WireSurface;
  let openPort = 0;

  beforeAll(async () => {
    // Copies of the front's files: the RELOAD test replaces them.
    writeFileSync(file('live.crt'), readFileSync(file('front.crt')));
    writeFileSync(file('live.key'), readFileSync(file('front.key')));
    front = await startWire({
      WIRE_TLS_CERT: file('live.crt'),
      WIRE_TLS_KEY: file('live.key'),
      WIRE_ADMIN_USERS: WIRE_USER,
    });
    // The same front on every address: a client of the machine's own address is not loopback.
    open = new WireSurface(
      front.pp.poolpilot,
      { ...front.pp.config.wire, port: 0, host: '0.0.0.0' },
      silentLogger,
    );
    await open.listen();
    openPort = open.listener.address!.port;
  });
  afterAll(async () => {
    await open?.close();
    await front?.close();
  });

  it('psql with sslmode=require and verify-full (sslrootcert) gets TLS; a wrong root certificate is refused', async () => {
    const env = { ...front.libpqEnv, PGSSLMODE: 'require' };
    const required = await psql(env, '\\conninfo', 'SELECT 1');
    expect(required.stderr).toBe('');
    expect(required.stdout).toMatch(/SSL connection \(protocol: TLSv1\.[23]/);
    const full = await psql(
      { ...env, PGSSLMODE: 'verify-full', PGSSLROOTCERT: file('ca.crt'), PGHOST: 'localhost' },
      'SELECT 42',
    );
    expect(full.stderr).toBe('');
    expect(full.stdout.trim()).toBe('42');
    const wrong = await psql(
      { ...env, PGSSLMODE: 'verify-full', PGSSLROOTCERT: file('other-ca.crt') },
      'SELECT 1',
    );
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/certificate verify failed/);
  });

  it('takes PostgreSQL 17 direct TLS with ALPN postgresql, and refuses it without ALPN', async () => {
    const direct = tls.connect({
      host: '127.0.0.1',
      port: front.port,
      ca: readFileSync(file('ca.crt')),
      servername: 'localhost',
      ALPNProtocols: ['postgresql'],
    });
    await new Promise<void>((resolve, reject) => direct.once('secureConnect', resolve).once('error', reject));
    expect(direct.alpnProtocol).toBe('postgresql');
    direct.write(startup(WIRE_USER, front.database));
    const answer = await readUntil(direct, (b) => b.length >= 9);
    // AuthenticationSASL, channel binding offered first over TLS.
    expect(answer[0]).toBe(0x52);
    expect(answer.readInt32BE(5)).toBe(10);
    expect(answer.toString('latin1')).toContain('SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0');
    direct.destroy();

    const bare = tls.connect({ host: '127.0.0.1', port: front.port, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => bare.once('secureConnect', resolve).once('error', reject));
    bare.write(startup(WIRE_USER, front.database));
    const refused = errorOf(await readUntil(bare, () => false));
    expect(refused).toMatchObject({ code: '08P01', message: expect.stringMatching(/without ALPN/) });
  });

  it('refuses plaintext sent after an SSLRequest before the answer (CVE-2021-23214)', async () => {
    const socket = net.connect(front.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(Buffer.concat([SSL_REQUEST, startup(WIRE_USER, front.database)]));
    const answer = await readUntil(socket, () => false);
    expect(answer[0]).not.toBe(0x53);
    expect(errorOf(answer)).toMatchObject({
      code: '08P01',
      message: 'received unencrypted data after SSL request',
    });
  });

  it('pg and postgres.js connect with ssl; pg binds the channel (SCRAM-SHA-256-PLUS)', async () => {
    const ca = readFileSync(file('ca.crt'));
    const client = new pg.Client({
      ...front.connection,
      ssl: { ca, servername: 'localhost' },
      enableChannelBinding: true,
    });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT 7 AS n');
      expect(rows[0].n).toBe(7);
      const mine = [...front.surface.listener.clients()].find((c) => c.user === WIRE_USER);
      expect(mine?.authMechanism).toBe('SCRAM-SHA-256-PLUS');
      expect(mine?.tls).toMatch(/^TLSv1\.[23]\//);
    } finally {
      await client.end();
    }

    const sql = postgres({
      host: '127.0.0.1',
      port: front.port,
      user: WIRE_USER,
      pass: WIRE_PASSWORD,
      database: front.database,
      ssl: { ca, servername: 'localhost' },
      max: 1,
      onnotice: () => {},
    });
    try {
      const [row] = await sql`SELECT 8 AS n`;
      expect(row!.n).toBe(8);
      const mine = [...front.surface.listener.clients()].find((c) => c.user === WIRE_USER);
      expect(mine?.tls).toMatch(/^TLSv1\.[23]\//);
    } finally {
      await sql.end();
    }
  });

  it('refuses a client whose channel-binding data is for another certificate (a man in the middle)', async () => {
    const otherDer = Buffer.from(
      readFileSync(file('other-ca.crt'), 'utf8').replace(/-----[A-Z ]+-----|\s/g, ''),
      'base64',
    );
    const client = new pg.Client({
      ...front.connection,
      ssl: { rejectUnauthorized: false },
      enableChannelBinding: true,
    });
    client.on('error', () => {});
    const connection = (
      client as unknown as { connection: { on(e: string, f: () => void): void; stream: tls.TLSSocket } }
    ).connection;
    // What a relay in the middle would present: the client sees another certificate than the front's.
    connection.on('sslconnect', () => {
      connection.stream.getPeerCertificate = (() => ({
        raw: otherDer,
      })) as unknown as tls.TLSSocket['getPeerCertificate'];
    });
    await expect(client.connect()).rejects.toMatchObject({
      code: '08P01',
      message: expect.stringMatching(/channel binding check failed/),
    });
    await client.end().catch(() => undefined);
  });

  it('RELOAD in the admin console takes a renewed certificate for new connections', async () => {
    writeFileSync(file('live.crt'), readFileSync(file('renewed.crt')));
    writeFileSync(file('live.key'), readFileSync(file('renewed.key')));
    const admin = new pg.Client({ ...front.connection, database: 'pgbouncer', ssl: false });
    const notices: string[] = [];
    admin.on('notice', (n) => notices.push(n.message ?? ''));
    await admin.connect();
    try {
      await admin.query('RELOAD');
      expect(notices.join()).toMatch(/WIRE_TLS_CERT, WIRE_TLS_KEY/);
    } finally {
      await admin.end();
    }
    const renewed = new pg.Client({
      ...front.connection,
      ssl: { ca: readFileSync(file('other-ca.crt')), servername: 'localhost' },
    });
    await renewed.connect();
    expect((await renewed.query('SELECT 10 AS n')).rows[0].n).toBe(10);
    await renewed.end();
    // Back to the first certificate for the tests that follow.
    writeFileSync(file('live.crt'), readFileSync(file('front.crt')));
    writeFileSync(file('live.key'), readFileSync(file('front.key')));
    const again = new pg.Client({ ...front.connection, database: 'pgbouncer', ssl: false });
    await again.connect();
    await again.query('RELOAD');
    await again.end();
  });

  it('refuses a non-loopback client without TLS (28000) and lets it in with TLS', async () => {
    const plain = new pg.Client({ ...front.connection, host: address, port: openPort, ssl: false });
    plain.on('error', () => {});
    await expect(plain.connect()).rejects.toMatchObject({
      code: '28000',
      message: expect.stringMatching(/TLS is required \(WIRE_TLS_REQUIRED=non-loopback\)/),
    });
    const secure = new pg.Client({
      ...front.connection,
      host: address,
      port: openPort,
      ssl: { ca: readFileSync(file('ca.crt')) },
    });
    await secure.connect();
    try {
      expect((await secure.query('SELECT 9 AS n')).rows[0].n).toBe(9);
    } finally {
      await secure.end();
    }
    // Loopback stays allowed in plaintext under the default.
    const local = new pg.Client({ ...front.connection, port: openPort, ssl: false });
    await local.connect();
    await local.end();
  });

  it('drains a TLS client with FATAL 57P01 over its TLS connection', async () => {
    const client = new pg.Client({
      ...front.connection,
      port: openPort,
      ssl: { ca: readFileSync(file('ca.crt')), servername: 'localhost' },
    });
    const failed = new Promise<Error>((resolve) => client.on('error', resolve));
    await client.connect();
    expect((await client.query('SELECT 11 AS n')).rows[0].n).toBe(11);
    expect(await open.drain(2_000)).toBe(true);
    expect(await failed).toMatchObject({ code: '57P01' });
    await client.end().catch(() => undefined);
  });
});

describe('TLS configuration', () => {
  it.each([
    [{ WIRE_TLS_CERT: '/etc/hostname' }, /WIRE_TLS_CERT is not accepted alone/],
    [{ WIRE_TLS_REQUIRED: 'all' }, /WIRE_TLS_REQUIRED=all is not accepted without WIRE_TLS_CERT/],
    [
      { WIRE_TLS_REQUIRED: 'sometimes' },
      /WIRE_TLS_REQUIRED="sometimes" is not accepted: expected non-loopback, all or off/,
    ],
    [
      { WIRE_TLS_CERT: '/nonexistent.crt', WIRE_TLS_KEY: '/nonexistent.key' },
      /WIRE_TLS_CERT="\/nonexistent.crt" is not accepted: the file cannot be read/,
    ],
    [
      { WIRE_TLS_CERT: '/etc/hostname', WIRE_TLS_KEY: '/etc/hostname' },
      /WIRE_TLS_CERT="\/etc\/hostname" is not accepted: not a PEM file/,
    ],
  ])('refuses %o naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('defaults to TLS required from non-loopback clients, none offered', () => {
    expect(loadConfig({}).wire).toMatchObject({ tls: null, tlsRequired: 'non-loopback' });
    expect(
      loadConfig({
        WIRE_TLS_CERT: file('front.crt'),
        WIRE_TLS_KEY: file('front.key'),
        WIRE_TLS_REQUIRED: 'all',
      }).wire,
    ).toMatchObject({ tls: { certFile: file('front.crt') }, tlsRequired: 'all' });
  });
});

describe('sslmode of the server URLs, for the pool’s own connections', () => {
  let cluster: EmbeddedCluster;
  const keyDir = mkdtempSync(join(tmpdir(), 'pp-pg-tls-'));

  beforeAll(async () => {
    // PostgreSQL reads its key only when its own user owns it with mode 0600.
    for (const name of ['pg.crt', 'pg.key']) writeFileSync(join(keyDir, name), readFileSync(file(name)));
    const user = serverUser();
    chmodSync(join(keyDir, 'pg.key'), 0o600);
    if (user) {
      chownSync(keyDir, user.uid, user.gid);
      for (const name of ['pg.crt', 'pg.key']) chownSync(join(keyDir, name), user.uid, user.gid);
    }
    cluster = await startEmbeddedCluster({
      settings: { ssl: 'on', ssl_cert_file: join(keyDir, 'pg.crt'), ssl_key_file: join(keyDir, 'pg.key') },
    });
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
    rmSync(keyDir, { recursive: true, force: true });
  });

  /** Connects as the pool does and asks the server whether this connection is encrypted. */
  async function encrypted(url: string): Promise<boolean> {
    const connection = new ServerConnection({
      connectionString: url,
      applicationName: 'poolpilot-test',
      statementTimeoutMs: 0,
      connectTimeoutMs: 10_000,
    });
    try {
      await connection.connect();
      const { rows } = await connection.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      const ssl = rows[0]!.ssl as boolean;
      expect(connection.tlsDescription !== '').toBe(ssl);
      return ssl;
    } finally {
      await connection.end();
    }
  }

  const on = (host: string, query: string) => {
    const u = new URL(cluster.primaryUrl);
    u.hostname = host;
    return `${u.toString()}?${query}`;
  };

  it('verify-full checks the chain and the name; verify-ca the chain only', async () => {
    const ca = file('ca.crt');
    expect(await encrypted(on('localhost', `sslmode=verify-full&sslrootcert=${ca}`))).toBe(true);
    // The certificate names localhost only.
    await expect(encrypted(on('127.0.0.1', `sslmode=verify-full&sslrootcert=${ca}`))).rejects.toThrow(
      /IP: 127\.0\.0\.1 is not in the cert's list/,
    );
    expect(await encrypted(on('127.0.0.1', `sslmode=verify-ca&sslrootcert=${ca}`))).toBe(true);
    await expect(
      encrypted(on('localhost', `sslmode=verify-ca&sslrootcert=${file('other-ca.crt')}`)),
    ).rejects.toThrow(/self[- ]signed|unable to verify|unable to get local issuer/);
  });

  it('require encrypts without checking, unless sslrootcert is given (then as verify-ca); prefer and disable', async () => {
    expect(await encrypted(on('127.0.0.1', 'sslmode=require'))).toBe(true);
    await expect(
      encrypted(on('127.0.0.1', `sslmode=require&sslrootcert=${file('other-ca.crt')}`)),
    ).rejects.toThrow();
    expect(await encrypted(on('127.0.0.1', 'sslmode=prefer'))).toBe(true);
    expect(await encrypted(on('127.0.0.1', 'sslmode=disable'))).toBe(false);
  });

  it('against a server without TLS: prefer falls back to plaintext, require refuses', async () => {
    const { primaryUrl } = inject('databases');
    const plain = (q: string) => `${primaryUrl}${primaryUrl.includes('?') ? '&' : '?'}${q}`;
    expect(await encrypted(plain('sslmode=prefer'))).toBe(false);
    await expect(encrypted(plain('sslmode=require'))).rejects.toThrow(/refused TLS, which sslmode requires/);
  });
});

describe('SCRAM channel-binding negotiation (RFC 5802 section 6)', () => {
  const verifier = createVerifier('pw', { iterations: 4096 });
  const binding = Buffer.alloc(32, 7);

  it('offers PLUS first on TLS only', () => {
    expect(new ScramExchange('u', verifier, binding).mechanisms).toEqual([
      'SCRAM-SHA-256-PLUS',
      'SCRAM-SHA-256',
    ]);
    expect(new ScramExchange('u', verifier, null).mechanisms).toEqual(['SCRAM-SHA-256']);
    expect(() => new ScramExchange('u', verifier, null).choose('SCRAM-SHA-256-PLUS')).toThrow(
      ScramProtocolError,
    );
  });

  it('refuses a downgrade (y on TLS), PLUS without p=tls-server-end-point, and p= without PLUS', () => {
    const plain = new ScramExchange('u', verifier, binding);
    plain.choose('SCRAM-SHA-256');
    expect(() => plain.start('y,,n=,r=abc')).toThrow(/channel binding negotiation error/);
    const plus = new ScramExchange('u', verifier, binding);
    plus.choose('SCRAM-SHA-256-PLUS');
    expect(() => plus.start('n,,n=,r=abc')).toThrow(/needs channel binding type tls-server-end-point/);
    const unbound = new ScramExchange('u', verifier, null);
    unbound.choose('SCRAM-SHA-256');
    expect(() => unbound.start('p=tls-server-end-point,,n=,r=abc')).toThrow(
      /did not select SCRAM-SHA-256-PLUS/,
    );
    // Plaintext: y (the client could bind, the server cannot) is fine.
    const y = new ScramExchange('u', verifier, null);
    y.choose('SCRAM-SHA-256');
    expect(y.start('y,,n=,r=abc')).toMatch(/^r=abc/);
  });
});
