import { describe, expect, it } from 'vitest';
import { ReadYourWrites, type ReadYourWritesMode } from '../src/core/router/index.js';

/** A clock the test moves by hand. */
function tracker(mode: ReadYourWritesMode, maxSessions = 100, windowMs = 1_000) {
  const clock = { now: 0 };
  const ryw = new ReadYourWrites({ mode, windowMs, maxSessions, now: () => clock.now });
  return { ryw, clock };
}

describe('read-your-writes scopes (no database: the bookkeeping alone)', () => {
  it('session mode holds back only the writing session, until a replica replays it or the window ends', () => {
    const { ryw, clock } = tracker('session');
    ryw.record('a', ['public.Orders'], '0/100');
    expect(ryw.pending('a', ['orders'], '0/FF')).toMatchObject({ table: 'orders' });
    expect(ryw.pending('b', ['orders'], '0/FF')).toBeNull();
    expect(ryw.pending(null, ['orders'], '0/FF')).toBeNull();
    expect(ryw.pending('a', ['orders'], '0/100')).toBeNull();
    expect(ryw.pending('a', ['other'], '0/FF')).toBeNull();
    clock.now = 1_000;
    expect(ryw.pending('a', ['orders'], '0/FF')).toBeNull();
    expect(ryw.sessions).toBe(0);
  });

  it('a write with no position yet, or of unknown tables, holds back every table of that session', () => {
    const { ryw } = tracker('session');
    ryw.record('a', [], null);
    expect(ryw.pending('a', ['anything'], 'FF/0')).toMatchObject({ table: 'an unknown table' });
    expect(ryw.recentTables('a')).toEqual(['*']);
    expect(ryw.recentTables('b')).toEqual([]);
  });

  it('global mode holds back everyone; off holds back no one', () => {
    const global = tracker('global').ryw;
    global.record('a', ['t'], '0/100');
    expect(global.pending('b', ['t'], '0/FF')).not.toBeNull();
    expect(global.pending(null, ['t'], '0/FF')).not.toBeNull();
    const off = tracker('off').ryw;
    off.record('a', ['t'], '0/100');
    expect(off.pending('a', ['t'], '0/FF')).toBeNull();
  });

  it("a session pushed out of the LRU while its window runs holds back everyone's reads of its tables, never no one's", () => {
    const { ryw, clock } = tracker('session', 2);
    ryw.record('a', ['t'], '0/100');
    ryw.record('b', ['u'], '0/200');
    ryw.record('c', ['v'], '0/300'); // 'a' is the least recently written: out
    expect(ryw.sessions).toBe(2);
    expect(ryw.pending('a', ['t'], '0/FF')).toMatchObject({ table: 't' });
    expect(ryw.pending('z', ['t'], '0/FF')).toMatchObject({ table: 't' });
    expect(ryw.pending('z', ['t'], '0/100')).toBeNull();
    expect(ryw.pending('z', ['u'], '0/FF')).toBeNull(); // 'b' is still remembered as its own
    clock.now = 1_000;
    expect(ryw.pending('z', ['t'], '0/FF')).toBeNull();
  });

  it('a window of 0 turns it off whatever the mode', () => {
    const ryw = new ReadYourWrites({ mode: 'global', windowMs: 0, maxSessions: 10 });
    ryw.record('a', ['t'], '0/100');
    expect(ryw.mode).toBe('off');
    expect(ryw.pending('a', ['t'], '0/1')).toBeNull();
  });
});

describe('a session that ends', () => {
  it('is forgotten in session mode, and only its own writes', () => {
    const { ryw } = tracker('session');
    ryw.record('wire:1', ['t'], '0/100');
    ryw.record('wire:2', ['t'], '0/100');
    ryw.forget('wire:1');
    expect(ryw.sessions).toBe(1);
    expect(ryw.pending('wire:2', ['t'], '0/FF')).not.toBeNull();
  });
});
