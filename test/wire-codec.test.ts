import { createHash, pbkdf2Sync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { describeConfig, loadConfig } from '../src/config/index.js';
import { PoolpilotError } from '../src/core/errors.js';
import {
  backendKeyData,
  commandComplete,
  createVerifier,
  dataRow,
  errorFieldsFor,
  errorResponse,
  FrameError,
  FrameReader,
  formatVerifier,
  isLoopbackAddress,
  negotiateProtocolVersion,
  parameterStatus,
  parseStartupPacket,
  parseVerifier,
  readBind,
  readExecute,
  readParse,
  readQuery,
  readTarget,
  rowDescription,
  ScramExchange,
  ScramProtocolError,
  StartupError,
} from '../src/wire/index.js';
import { hmac } from '../src/wire/scram-verifier.js';

function frame(type: string, body: Buffer | string): Buffer {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const head = Buffer.alloc(5);
  head[0] = type.charCodeAt(0);
  head.writeInt32BE(b.length + 4, 1);
  return Buffer.concat([head, b]);
}

function collect(reader: FrameReader, chunks: Buffer[]) {
  const out: { type: string; body: string; frame: Buffer }[] = [];
  for (const c of chunks) {
    reader.feed(c, (type, body, f) =>
      out.push({ type: String.fromCharCode(type), body: body.toString(), frame: Buffer.from(f) }),
    );
  }
  return out;
}

describe('FrameReader', () => {
  const stream = Buffer.concat([
    frame('Q', 'SELECT 1\0'),
    frame('S', ''),
    frame('P', 'x'.repeat(300)),
    frame('H', ''),
  ]);

  it('reads several messages from one chunk as slices of it', () => {
    const reader = new FrameReader();
    const seen: Buffer[] = [];
    reader.feed(stream, (_t, _b, f) => seen.push(f));
    expect(seen).toHaveLength(4);
    expect(seen[0]!.buffer).toBe(stream.buffer); // no copy
    expect(Buffer.concat(seen).equals(stream)).toBe(true);
    expect(reader.pending).toBe(false);
  });

  it('gives the same messages whatever the chunk boundaries', () => {
    const whole = collect(new FrameReader(), [stream]);
    for (const size of [1, 2, 3, 4, 5, 6, 7, 13, 64, 301]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < stream.length; i += size) chunks.push(stream.subarray(i, i + size));
      const reader = new FrameReader();
      expect(collect(reader, chunks)).toEqual(whole);
      expect(reader.pending).toBe(false);
    }
    expect(whole.map((m) => m.type)).toEqual(['Q', 'S', 'P', 'H']);
    expect(whole[0]!.body).toBe('SELECT 1\0');
  });

  it('rejects a message over the stated limit with 54000 before buffering it', () => {
    const reader = new FrameReader(100);
    const big = frame('Q', 'x'.repeat(101));
    expect(() => reader.feed(big.subarray(0, 5), () => {})).toThrow(FrameError);
    try {
      new FrameReader(100).feed(big.subarray(0, 5), () => {});
    } catch (e) {
      expect((e as FrameError).sqlstate).toBe('54000');
      expect((e as Error).message).toMatch(/101 bytes exceeds the limit of 100 bytes/);
    }
    expect(collect(new FrameReader(100), [frame('Q', 'x'.repeat(100))])).toHaveLength(1);
  });

  it('rejects a length below 4 with 08P01', () => {
    const bad = Buffer.from([0x51, 0, 0, 0, 3]);
    expect(() => new FrameReader().feed(bad, () => {})).toThrow(/invalid message length 3/);
    try {
      new FrameReader().feed(Buffer.from([0x51, 0xff, 0xff, 0xff, 0xff]), () => {});
    } catch (e) {
      expect((e as FrameError).sqlstate).toBe('08P01');
    }
  });
});

function startup(params: Record<string, string>, version = 196608): Buffer {
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

function code(n: number, extra = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(8);
  b.writeInt32BE(8 + extra.length, 0);
  b.writeInt32BE(n, 4);
  return Buffer.concat([b, extra]);
}

describe('startup packets', () => {
  it('parses a 3.0 StartupMessage, waiting for all of it', () => {
    const packet = startup({ user: 'app', database: 'db', application_name: 'x' });
    expect(parseStartupPacket(packet.subarray(0, 3))).toBeNull();
    expect(parseStartupPacket(packet.subarray(0, packet.length - 1))).toBeNull();
    const parsed = parseStartupPacket(Buffer.concat([packet, Buffer.from('rest')]))!;
    expect(parsed.consumed).toBe(packet.length);
    expect(parsed.packet).toEqual({
      kind: 'startup',
      major: 3,
      minor: 0,
      parameters: { user: 'app', database: 'db', application_name: 'x' },
      protocolOptions: [],
    });
  });

  it('collects _pq_ options and newer minors for NegotiateProtocolVersion', () => {
    const parsed = parseStartupPacket(startup({ user: 'a', '_pq_.test': '1' }, (3 << 16) | 2))!.packet;
    expect(parsed).toMatchObject({ kind: 'startup', minor: 2, protocolOptions: ['_pq_.test'] });
  });

  it('recognises SSL, GSSENC and cancel requests', () => {
    expect(parseStartupPacket(code(80877103))!.packet).toEqual({ kind: 'ssl' });
    expect(parseStartupPacket(code(80877104))!.packet).toEqual({ kind: 'gssenc' });
    const key = Buffer.alloc(8);
    key.writeInt32BE(1234, 0);
    key.writeInt32BE(-5, 4);
    const cancel = parseStartupPacket(code(80877102, key))!.packet;
    expect(cancel).toMatchObject({ kind: 'cancel', processId: 1234 });
  });

  it.each([
    ['a huge length', Buffer.from([0x7f, 0xff, 0xff, 0xff]), '08P01', /invalid length of startup packet/],
    ['a short length', Buffer.from([0, 0, 0, 4, 0, 0, 0, 0]), '08P01', /invalid length of startup packet: 4/],
    ['protocol 2.0', startup({ user: 'a' }, 2 << 16), '0A000', /unsupported frontend protocol 2.0/],
    ['protocol 4.0', startup({ user: 'a' }, 4 << 16), '0A000', /unsupported frontend protocol 4.0/],
    ['a missing terminator', code(196608, Buffer.from('user\0a\0')), '08P01', /terminator/],
    ['a name without value', code(196608, Buffer.from('user\0\0')), '08P01', /has no value|terminator/],
    ['an SSLRequest with a body', code(80877103, Buffer.from('xxxx')), '08P01', /SSL request/],
    ['direct TLS', Buffer.from([0x16, 3, 1, 0, 200]), '08P01', /TLS/],
  ])('rejects %s with a clear error', (_name, packet, sqlstate, message) => {
    let error: unknown;
    try {
      parseStartupPacket(packet);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StartupError);
    expect((error as StartupError).sqlstate).toBe(sqlstate);
    expect((error as Error).message).toMatch(message);
  });
});

describe('backend message encoders', () => {
  it('encode lengths and fields as PostgreSQL does', () => {
    expect(parameterStatus('TimeZone', 'UTC')).toEqual(Buffer.from('S\0\0\0\x11TimeZone\0UTC\0', 'latin1'));
    expect(commandComplete('SELECT 1')).toEqual(Buffer.from('C\0\0\0\x0dSELECT 1\0', 'latin1'));
    expect(backendKeyData(1, 2).length).toBe(13);
    expect(negotiateProtocolVersion(0, ['_pq_.a'])).toEqual(
      Buffer.from('v\0\0\0\x13\0\0\0\0\0\0\0\x01_pq_.a\0', 'latin1'),
    );
    const row = dataRow(['1', null, Buffer.from([0xff])]);
    expect(row.readInt32BE(1)).toBe(row.length - 1);
    expect(row.readInt16BE(5)).toBe(3);
    expect(row.readInt32BE(7 + 5)).toBe(-1);
    const desc = rowDescription([{ name: 'n', typeOid: 23, typeSize: 4 }]);
    expect(desc.readInt32BE(1)).toBe(desc.length - 1);
  });

  it('writes every ErrorResponse field, severity twice, and strips NULs', () => {
    const e = errorResponse({
      severity: 'FATAL',
      code: '28P01',
      message: 'bad\0one',
      detail: 'd',
      hint: 'h',
      position: 7,
      where: 'w',
      routine: 'r',
    });
    expect(e.toString('latin1', 5)).toBe('SFATAL\0VFATAL\0C28P01\0Mbadone\0Dd\0Hh\0P7\0Ww\0Rr\0\0');
    expect(() => errorResponse({ severity: 'ERROR', code: 'nope', message: 'x' })).toThrow(/SQLSTATE/);
  });

  it('maps poolpilot error codes to SQLSTATEs', () => {
    expect(errorFieldsFor(new PoolpilotError('QUEUE_FULL', 'full')).code).toBe('53300');
    expect(errorFieldsFor(new PoolpilotError('DB_UNAVAILABLE', 'down')).code).toBe('08006');
    expect(errorFieldsFor(new PoolpilotError('QUERY_TIMEOUT', 't')).code).toBe('57014');
    expect(errorFieldsFor(new PoolpilotError('BAD_SQL', 's', { details: { sqlstate: '42P01' } })).code).toBe(
      '42P01',
    );
    expect(errorFieldsFor(new Error('secret internals'))).toEqual({
      severity: 'ERROR',
      code: 'XX000',
      message: 'internal error',
    });
  });
});

/** The client side of SCRAM-SHA-256 (RFC 5802), computed here independently of the server code. */
function clientProof(password: string, salt: Buffer, iterations: number, authMessage: string): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = hmac(salted, 'Client Key');
  const storedKey = createHash('sha256').update(clientKey).digest();
  const signature = hmac(storedKey, authMessage);
  return Buffer.from(clientKey.map((b, i) => b ^ signature[i]!)).toString('base64');
}

describe('SCRAM-SHA-256', () => {
  const salt = Buffer.from('0123456789abcdef');
  const verifier = createVerifier('pencil', { salt, iterations: 4096 });

  function run(password: string, known = true, flag = 'n') {
    const exchange = new ScramExchange('user', known ? verifier : null);
    const bare = 'n=,r=rOprNGfwEbeRWgbNEkqO';
    const serverFirst = exchange.start(`${flag},,${bare}`);
    const nonce = /r=([^,]+)/.exec(serverFirst)![1]!;
    const [, s, i] = /s=([^,]+),i=(\d+)/.exec(serverFirst)!;
    const withoutProof = `c=${Buffer.from(`${flag},,`).toString('base64')},r=${nonce}`;
    const auth = `${bare},${serverFirst},${withoutProof}`;
    const proof = clientProof(password, Buffer.from(s!, 'base64'), Number(i), auth);
    return { exchange, result: exchange.finish(`${withoutProof},p=${proof}`), serverFirst };
  }

  it('accepts the right password and proves the server knows the verifier', () => {
    const { result } = run('pencil');
    expect(result).toMatch(/^v=[A-Za-z0-9+/]+=*$/);
    expect(run('pencil', true, 'y').result).not.toBeNull();
  });

  it('refuses a wrong password and an unknown user the same way', () => {
    expect(run('pen').result).toBeNull();
    expect(run('pencil', false).result).toBeNull();
    // An unknown user sees a stable salt, so repeated tries do not reveal it is unknown.
    const a = new ScramExchange('ghost', null).start('n,,n=,r=abc');
    const b = new ScramExchange('ghost', null).start('n,,n=,r=abc');
    expect(a.split(',').slice(1)).toEqual(b.split(',').slice(1));
  });

  it.each([
    ['no GS2 header', 'n=,r=abc'],
    ['channel binding requested', 'p=tls-server-end-point,,n=,r=abc'],
    ['an authzid', 'n,a=admin,n=,r=abc'],
    ['a mandatory extension', 'n,,m=x,n=,r=abc'],
    ['no nonce', 'n,,n=,r='],
    ['a bad flag', 'x,,n=,r=abc'],
  ])('rejects a client-first-message with %s', (_name, message) => {
    expect(() => new ScramExchange('u', verifier).start(message)).toThrow(ScramProtocolError);
  });

  it('rejects a malformed client-final-message', () => {
    const exchange = new ScramExchange('u', verifier);
    const first = exchange.start('n,,n=,r=abc');
    const nonce = /r=([^,]+)/.exec(first)![1]!;
    expect(() => exchange.finish('garbage')).toThrow(ScramProtocolError);
    expect(() => exchange.finish(`c=biws,r=${nonce}x,p=${'A'.repeat(43)}=`)).toThrow(/nonce/);
    expect(() => exchange.finish(`c=eSws,r=${nonce},p=${'A'.repeat(43)}=`)).toThrow(/channel binding/);
    expect(() => exchange.finish(`c=biws,r=${nonce},p=AAAA`)).toThrow(/32 bytes/);
  });

  it('formats and parses pg_authid verifiers strictly', () => {
    const text = formatVerifier(verifier);
    expect(text).toMatch(/^SCRAM-SHA-256\$4096:[^$]+\$[^:]+:.+$/);
    expect(parseVerifier(text)).toEqual(verifier);
    expect(parseVerifier('md5abc')).toMatch(/expected/);
    expect(parseVerifier(text.replace('4096', '0'))).toMatch(/iterations/);
    expect(parseVerifier(text.replace(/:[^:]+$/, ':AAAA'))).toMatch(/32 bytes/);
    expect(parseVerifier(text.replace('$4096:', '$4096:!!'))).toMatch(/salt/);
  });
});

describe('frontend field readers', () => {
  it('read Query, Parse, Bind, Describe/Close and Execute bodies', () => {
    expect(readQuery(Buffer.from('SELECT 1\0'))).toBe('SELECT 1');
    const types = Buffer.alloc(10);
    types.writeInt16BE(2, 0);
    types.writeUInt32BE(23, 2);
    types.writeUInt32BE(25, 6);
    expect(readParse(Buffer.concat([Buffer.from('s1\0SELECT $1, $2\0'), types]))).toEqual({
      statement: 's1',
      query: 'SELECT $1, $2',
      paramTypes: [23, 25],
    });
    expect(readBind(Buffer.from('p\0s1\0\0\0\0\0\0\0'))).toEqual({ portal: 'p', statement: 's1' });
    expect(readTarget(Buffer.from('Sname\0'))).toEqual({ kind: 'S', name: 'name' });
    const exec = Buffer.from('\0\0\0\0\x0a', 'latin1');
    expect(readExecute(exec)).toEqual({ portal: '', maxRows: 10 });
  });

  it('refuse bodies that end early', () => {
    expect(() => readQuery(Buffer.from('SELECT 1'))).toThrow(FrameError);
    expect(() => readParse(Buffer.from('\0SELECT 1\0\0\x05'))).toThrow(/parameter/);
    expect(() => readTarget(Buffer.from('Xname\0'))).toThrow(/S or P/);
    expect(() => readExecute(Buffer.from('\0\0'))).toThrow(/row limit/);
  });

  it('tell loopback peers from others', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1'])
      expect(isLoopbackAddress(a)).toBe(true);
    for (const a of ['10.0.0.1', '::ffff:10.0.0.1', '192.168.1.1', 'fe80::1', '', undefined]) {
      expect(isLoopbackAddress(a)).toBe(false);
    }
  });
});

describe('WIRE_* configuration', () => {
  const verifierText = formatVerifier(createVerifier('pw', { iterations: 16 }));

  it('has defaults: port 6432 on HOST, 1000 clients, no users', () => {
    const { wire } = loadConfig({});
    expect(wire).toMatchObject({ port: 6432, host: '127.0.0.1', users: [], maxClients: 1000 });
  });

  it('parses user:verifier pairs and console users', () => {
    const { wire } = loadConfig({
      WIRE_USERS: `app:${verifierText}, ops:${verifierText}`,
      WIRE_ADMIN_USERS: 'ops',
      WIRE_HOST: '0.0.0.0',
    });
    expect(wire.users.map((u) => u.name)).toEqual(['app', 'ops']);
    expect(wire.adminUsers).toEqual(['ops']);
    expect(wire.host).toBe('0.0.0.0');
    const described = JSON.stringify(describeConfig(loadConfig({ WIRE_USERS: `app:${verifierText}` })));
    expect(described).toContain('"wire":{"port":6432');
    expect(described).not.toContain(verifierText.split('$')[2]!.split(':')[0]!);
  });

  it.each([
    [{ WIRE_PORT: '70000' }, /WIRE_PORT="70000" is not accepted/],
    [{ WIRE_MAX_CLIENTS: '0' }, /WIRE_MAX_CLIENTS="0" is not accepted/],
    [{ WIRE_HOST: '0.0.0.0' }, /WIRE_HOST="0.0.0.0" is not accepted without WIRE_USERS/],
    [
      { WIRE_USERS: 'app:SCRAM-SHA-256$4096:abc$def:ghi' },
      /WIRE_USERS entry 1 \(user "app"\) is not accepted/,
    ],
    [{ WIRE_USERS: '/nonexistent/users.txt' }, /WIRE_USERS="\/nonexistent\/users.txt" is not accepted/],
  ])('refuses %o naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('never prints a verifier in its errors', () => {
    const broken = `${verifierText.slice(0, -4)}`;
    try {
      loadConfig({ WIRE_USERS: `app:${verifierText},bad:${broken}`, WIRE_ADMIN_USERS: 'nobody' });
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).not.toContain(broken.split('$')[2]!);
      expect((e as Error).message).toMatch(/WIRE_ADMIN_USERS entry "nobody"/);
    }
  });

  it('keeps the front on loopback when HOST is opened for the HTTP side only', () => {
    const { wire, host } = loadConfig({ HOST: '0.0.0.0', API_TOKENS: 'admin:0123456789abcdef0123' });
    expect(host).toBe('0.0.0.0');
    expect(wire).toMatchObject({ host: '127.0.0.1', loopbackFallback: true });
  });
});
