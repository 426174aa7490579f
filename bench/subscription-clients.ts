/**
 * A load-generator process for bench/subscriptions.ts: holds `count` graphql-transport-ws
 * sockets (raw `ws`, no client library, so the generator is not the bottleneck) spread over the
 * given URLs, and measures each sample's delivery lag (receipt − the sample's `at`) without
 * parsing the whole frame. Driven by its parent over IPC:
 *   { cmd: 'connect', urls, count } → { connected }
 *   { cmd: 'subscribe', id, query } → { subscribed } (first sample on every socket)
 *   { cmd: 'measure' } … { cmd: 'report' } → { lags, frames }
 *   { cmd: 'complete', id }, { cmd: 'close' }
 */
import WebSocket from 'ws';

const sockets: WebSocket[] = [];
const firstSeen = new Map<string, Set<WebSocket>>();
let measuring = false;
let lags: number[] = [];
let frames = 0;
let cpuAtMeasure = process.cpuUsage();

const send = (message: object) => process.send!(message);
const AT = '"at":"';

function onFrame(socket: WebSocket, raw: Buffer): void {
  const text = raw.toString('latin1');
  if (!text.includes('"type":"next"')) return;
  frames += 1;
  const idStart = text.indexOf('"id":"') + 6;
  const id = text.slice(idStart, text.indexOf('"', idStart));
  firstSeen.get(id)?.add(socket);
  if (!measuring) return;
  const at = text.indexOf(AT);
  if (at === -1) return;
  lags.push(Date.now() - Date.parse(text.slice(at + AT.length, at + AT.length + 24)));
}

async function connect(urls: string[], count: number): Promise<void> {
  let opened = 0;
  const batch = 200;
  for (let i = 0; i < count; i += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, count - i) }, (_, j) => {
        const socket = new WebSocket(urls[(i + j) % urls.length]!, 'graphql-transport-ws', {
          perMessageDeflate: false,
        });
        sockets.push(socket);
        return new Promise<void>((resolve, reject) => {
          socket.once('error', reject);
          socket.on('message', (raw: Buffer) => {
            if (opened < count && raw.toString('latin1').includes('"connection_ack"')) {
              opened += 1;
              resolve();
              return;
            }
            onFrame(socket, raw);
          });
          socket.once('open', () => socket.send('{"type":"connection_init"}'));
        });
      }),
    );
  }
}

process.on(
  'message',
  async (message: {
    cmd: string;
    urls?: string[];
    count?: number;
    id?: string;
    query?: string;
    unique?: string;
  }) => {
    switch (message.cmd) {
      case 'connect':
        await connect(message.urls!, message.count!);
        send({ connected: sockets.length });
        return;
      case 'subscribe': {
        const seen = new Set<WebSocket>();
        firstSeen.set(message.id!, seen);
        const frame = (query: string) =>
          JSON.stringify({ id: message.id, type: 'subscribe', payload: { query } });
        const shared = frame(message.query!);
        for (let i = 0; i < sockets.length; i++) {
          // `unique`: an alias of its own per socket, so no two subscriptions can share a group.
          sockets[i]!.send(
            message.unique ? frame(message.query!.replace('{ ', `{ s${message.unique}_${i}: `)) : shared,
          );
          if (i % 500 === 499) await new Promise((r) => setTimeout(r, 20));
        }
        while (seen.size < sockets.length) await new Promise((r) => setTimeout(r, 50));
        send({ subscribed: seen.size });
        return;
      }
      case 'complete': {
        const frame = JSON.stringify({ id: message.id, type: 'complete' });
        for (const socket of sockets) socket.send(frame);
        send({ completed: true });
        return;
      }
      case 'measure':
        lags = [];
        frames = 0;
        cpuAtMeasure = process.cpuUsage();
        measuring = true;
        send({ measuring: true });
        return;
      case 'report':
        measuring = false;
        {
          const cpu = process.cpuUsage(cpuAtMeasure);
          send({ lags, frames, cpuMs: (cpu.user + cpu.system) / 1000 });
        }
        return;
      case 'close':
        for (const socket of sockets) socket.terminate();
        process.exit(0);
    }
  },
);
send({ ready: true });
