// A slow wire client in a process of its own, so that the memory of the test process is the
// front's alone: reads one large result and sleeps between reads, then prints what it got.
// Usage: node slow-reader.mjs '{"connection":{...},"sql":"...","mode":"cursor"|"flowing"}'
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import QueryStream from 'pg-query-stream';

const { connection, sql, mode } = JSON.parse(process.argv[2]);
const client = new pg.Client(connection);
await client.connect();
let rows = 0;
let bytes = 0;
let ordered = true;
const count = (row) => {
  rows += 1;
  bytes += row.t.length;
  if (row.g !== rows) ordered = false;
};

if (mode === 'cursor') {
  // pg-query-stream: batches of 100 rows through a portal; 10 ms asleep every 100 rows.
  const stream = client.query(new QueryStream(sql, [], { batchSize: 100 }));
  for await (const row of stream) {
    count(row);
    if (rows % 100 === 0) await sleep(10);
  }
} else {
  // The whole result flows at once (simple protocol); the socket is paused 10 ms every 512 kB
  // read, as an application busy with each row would leave it.
  const socket = client.connection.stream;
  const query = client.query(new pg.Query(sql));
  let sinceBreak = 0;
  query.on('row', (row) => {
    count(row);
    sinceBreak += row.t.length;
    if (sinceBreak >= 512 * 1024) {
      sinceBreak = 0;
      socket.pause();
      setTimeout(() => socket.resume(), 10);
    }
  });
  await new Promise((resolve, reject) => {
    query.on('end', resolve);
    query.on('error', reject);
  });
}
const after = await client.query('SELECT 1 AS ok');
await client.end();
process.stdout.write(JSON.stringify({ rows, bytes, ordered, usable: after.rows[0].ok === 1 }));
