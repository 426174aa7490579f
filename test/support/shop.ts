import { eventually, run } from '../harness/database.js';

/**
 * A small shop with tables of realistic size for routing and scoring: users (20k), orders (300k,
 * no index on user_id on purpose), items (100). Created on the primary, waited for on the replica.
 */
export const SHOP_SIZES = { users: 20_000, orders: 300_000, items: 100 };

export async function createShop(primaryUrl: string, replicaUrl: string | null): Promise<void> {
  await run(
    primaryUrl,
    `
    CREATE TABLE users (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE orders (id int PRIMARY KEY, user_id int NOT NULL, total numeric(10,2) NOT NULL, note text, created_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL);
    CREATE SEQUENCE ticket_seq;
    CREATE TABLE notes (id serial PRIMARY KEY, body text);
    CREATE PROCEDURE touch_notes() LANGUAGE sql AS $$ INSERT INTO notes (body) VALUES ('touched') $$;
    CREATE FUNCTION bump() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;
    INSERT INTO users SELECT g, 'user ' || g, 'u' || g || '@example.com', now() - g * interval '1 minute' FROM generate_series(1, ${SHOP_SIZES.users}) g;
    INSERT INTO orders SELECT g, 1 + (g::bigint * 7919) % ${SHOP_SIZES.users}, (g % 500) + 0.99, CASE WHEN g % 10 = 0 THEN 'gift' END, now() - g * interval '1 second' FROM generate_series(1, ${SHOP_SIZES.orders}) g;
    INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, ${SHOP_SIZES.items}) g;
    ANALYZE users; ANALYZE orders; ANALYZE items;`,
  );
  if (replicaUrl) {
    await eventually(
      async () =>
        (await run(replicaUrl, 'SELECT count(*)::int AS n FROM items')).rows[0].n === SHOP_SIZES.items,
      60_000,
      100,
    );
  }
}

/** The guide's example query, verbatim. */
export const GUIDE_QUERY =
  'SELECT * FROM users JOIN orders ON users.id = orders.user_id WHERE orders.total > 100 GROUP BY users.id ORDER BY orders.total DESC';
