import { describe, expect, it } from 'vitest';
import { frontCommand } from '../src/wire/front-settings.js';

/** What the wire front takes as its own statement; the wire tests show it answered on a live connection. */
describe('the front’s poolpilot.* statements (no database: the parsing alone)', () => {
  it('takes SET, SET TO, SESSION, LOCAL, DEFAULT, RESET and SHOW', () => {
    expect(frontCommand("SET poolpilot.after_lsn = '0/16B3748'")).toEqual({
      kind: 'set',
      lsn: 0x16b3748n,
      local: false,
    });
    expect(frontCommand("  set session poolpilot.after_lsn to '1/0';  ")).toEqual({
      kind: 'set',
      lsn: 1n << 32n,
      local: false,
    });
    expect(frontCommand('SET LOCAL "poolpilot"."after_lsn" = 0/10')).toEqual({
      kind: 'set',
      lsn: 16n,
      local: true,
    });
    expect(frontCommand('SET poolpilot.after_lsn = DEFAULT')).toEqual({
      kind: 'set',
      lsn: null,
      local: false,
    });
    expect(frontCommand('RESET poolpilot.after_lsn')).toEqual({ kind: 'set', lsn: null, local: false });
    expect(frontCommand('/* why */ SHOW poolpilot.last_lsn')).toEqual({ kind: 'show', name: 'last_lsn' });
  });

  it('leaves everything else to the server, the poolpilot schema and the comment hint included', () => {
    expect(frontCommand('SELECT * FROM poolpilot.audit_log')).toBeNull();
    expect(frontCommand('SET search_path TO poolpilot, public')).toBeNull();
    expect(frontCommand("/* poolpilot.after_lsn=0/1 */ SELECT 'SET poolpilot.after_lsn = 1'")).toBeNull();
    expect(frontCommand('SELECT 1')).toBeNull();
  });

  it('refuses what it cannot take, with the SQLSTATE PostgreSQL would use', () => {
    const code = (sql: string) => {
      const c = frontCommand(sql);
      return c?.kind === 'refuse' ? (c.error.details.sqlstate ?? c.error.code) : c?.kind;
    };
    expect(code("SET poolpilot.after_lsn = 'later'")).toBe('BAD_USER_INPUT');
    expect(code("SET poolpilot.last_lsn = '0/1'")).toBe('55P02');
    expect(code('SHOW poolpilot.other')).toBe('42704');
    expect(code("SET poolpilot.other = 'x'")).toBe('55P02');
    expect(code("SELECT 1; SET poolpilot.after_lsn = '0/1'")).toBe('0A000');
  });
});
