import { beforeAll, describe, expect, it } from 'vitest';
import { literalKey } from '../src/core/analyzer/literal-key.js';
import { fingerprintOf, loadParser } from '../src/core/analyzer/parser.js';

describe('literal key: statements that differ only in constants share a key, without a parse', () => {
  beforeAll(() => loadParser());

  it('blanks numbers and strings, keeps everything else to the letter', () => {
    const a = literalKey('SELECT abalance FROM pgbench_accounts WHERE aid = 4711;');
    expect(a).toBe(literalKey('SELECT abalance FROM pgbench_accounts WHERE aid = 815;'));
    expect(literalKey("SELECT * FROM t WHERE name = 'ada' AND x > 1.5e3")).toBe(
      literalKey("SELECT * FROM t WHERE name = 'it''s' AND x > 7"),
    );
    expect(literalKey('SELECT t1.a FROM t1 WHERE a = $1')).toBe(
      literalKey('SELECT t1.a FROM t1 WHERE a = $1'),
    );
    expect(literalKey('SELECT t1.a FROM t1')).not.toBe(literalKey('SELECT t2.a FROM t2'));
    expect(literalKey('SELECT "a b" FROM t')).not.toBe(literalKey('SELECT "a c" FROM t'));
    expect(literalKey('/* poolpilot:primary */ SELECT 1')).not.toBe(literalKey('/* other */ SELECT 1'));
    expect(literalKey('SELECT 1 -- a\n')).not.toBe(literalKey('SELECT 1 -- b\n'));
  });

  it('gives up (null) where the reading could depend on settings or is not plain', () => {
    expect(literalKey("SELECT 'a\\' OR 1=1 --'")).toBeNull();
    expect(literalKey('SELECT $$x$$')).toBeNull();
    expect(literalKey("SELECT 'unterminated")).toBeNull();
    expect(literalKey('SELECT /* open')).toBeNull();
    expect(literalKey('SELECT "open')).toBeNull();
  });

  it('never shares a key between statements of different shapes', () => {
    const statements = [
      'SELECT 1',
      "SELECT 'x'",
      'SELECT a FROM t WHERE b = 1',
      'SELECT a FROM t WHERE b = 1 OR c = 2',
      "SELECT a FROM t WHERE b = 'x'; DELETE FROM t",
      'UPDATE t SET a = 1 WHERE id = 2',
      'SELECT a FROM t WHERE b = $1',
      "SELECT 'a'\n'b'",
      'SELECT 0x1F, 1_000, .5, 1e-3',
      "SELECT E'x'",
      'SELECT x::numeric(10,2)',
      'SELECT x::numeric(12,4)',
    ];
    const byKey = new Map<string, string>();
    for (const sql of statements) {
      const key = literalKey(sql);
      if (key === null) continue;
      const fingerprint = fingerprintOf(sql);
      const seen = byKey.get(key);
      if (seen !== undefined) expect(fingerprint).toBe(seen);
      byKey.set(key, fingerprint);
    }
  });
});
