import { describe, expect, it } from 'vitest';
import { QueryObservations } from '../src/core/insights/index.js';
import { filterColumns } from '../src/core/optimizer/index.js';

const uses = async (sql: string) =>
  (await filterColumns(sql)).map((u) => `${u.table ?? '?'}.${u.column}:${u.kind}`).sort();

describe('filterColumns (parsed with libpg_query)', () => {
  it('finds equality, range and join columns, resolving aliases', async () => {
    expect(
      await uses(
        `SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id
         WHERE o.status = $1 AND o.created_at >= $2 AND c.region IN ($3, $4) AND o.total BETWEEN $5 AND $6`,
      ),
    ).toEqual([
      'customers.id:join',
      'customers.region:equality',
      'orders.created_at:range',
      'orders.customer_id:join',
      'orders.status:equality',
      'orders.total:range',
    ]);
  });

  it('leaves OR branches, expressions and outer references alone, and walks subqueries in their own scope', async () => {
    expect(await uses('SELECT * FROM t WHERE a = 1 OR b = 2')).toEqual([]);
    expect(await uses('SELECT * FROM t WHERE lower(email) = $1')).toEqual([]);
    expect(await uses('SELECT * FROM t WHERE id IN (SELECT t_id FROM u WHERE u.kind = $1)')).toEqual([
      'u.kind:equality',
    ]);
    expect(await uses('UPDATE accounts SET n = n + 1 WHERE owner_id = $1')).toEqual([
      'accounts.owner_id:equality',
    ]);
    expect(await uses('WITH r AS (SELECT * FROM logs WHERE level = $1) SELECT * FROM r')).toEqual([
      'logs.level:equality',
    ]);
  });

  it('leaves a bare column unresolved when several tables are in scope', async () => {
    const [use] = await filterColumns('SELECT * FROM a, b WHERE x = $1');
    expect(use).toMatchObject({ table: null, column: 'x', scope: [{ table: 'a' }, { table: 'b' }] });
  });

  it('returns nothing for SQL that does not parse, or for several statements', async () => {
    expect(await filterColumns('SELEC nonsense')).toEqual([]);
    expect(await filterColumns('SELECT * FROM t WHERE a = 1; DELETE FROM t WHERE b = 2')).toEqual([]);
  });
});

describe('QueryObservations', () => {
  it('aggregates per shape and forgets the least recently seen when full', () => {
    const o = new QueryObservations(2);
    o.record('a', 'SELECT $1', 10, 1);
    o.record('b', 'SELECT * FROM t WHERE id = $1', 4, 1);
    o.record('a', 'SELECT $1', 30, 1);
    o.record('c', 'SELECT now()', 1, 1);
    const shapes = Object.fromEntries(o.snapshot().map((s) => [s.fingerprint, s]));
    expect(Object.keys(shapes).sort()).toEqual(['a', 'c']);
    expect(shapes.a).toMatchObject({ calls: 2, totalMs: 40, meanMs: 20, minMs: 10, maxMs: 30, rows: 2 });
    o.clear();
    expect(o.size).toBe(0);
  });
});
