import type { TrafficCounters } from '../core/clients/index.js';
import { isPoolpilotError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import {
  type ConsoleSource,
  type Period,
  showClients,
  showConfig,
  showDatabases,
  showLists,
  showPools,
  showReplication,
  showRoutes,
  showServers,
  showStats,
  showStatsHalf,
  showVersion,
  type Table,
} from './admin-tables.js';
import {
  commandComplete,
  dataRow,
  emptyQueryResponse,
  noticeResponse,
  readyForQuery,
  rowDescription,
  TypeOid,
} from './backend-messages.js';
import type { ClientHandler, ClientSession, WireClient } from './client.js';
import { Frontend } from './protocol.js';
import { SqlState } from './sqlstate.js';

/** PgBouncer's stats_period: SHOW STATS' averages are over the last completed period. */
export const STATS_PERIOD_MS = 60_000;

/** `CMD [arg] [;]`, as PgBouncer's console reads it (an argument may be double-quoted). */
const COMMAND = /^\s*([a-z_]+)(?:\s+("(?:[^"]|"")+"|[a-z0-9_.-]+))?\s*;?\s*$/i;

const HELP = [
  'SHOW HELP|CONFIG|DATABASES|POOLS|CLIENTS|SERVERS|VERSION',
  'SHOW LISTS|STATS|STATS_TOTALS|STATS_AVERAGES|ROUTES|REPLICATION',
  'RELOAD',
  'PAUSE [<db>]',
  'RESUME [<db>]',
  'RECONNECT [<db>]',
  'KILL [<db>]',
  'KILL_CLIENT <client_id>',
].join('\n\t');

/**
 * Settings some clients read or set on connecting: answered as PgBouncer's console answers them
 * (SHOW gives a fixed value, SET is accepted and ignored with a NOTICE).
 */
const FAKE_SETTINGS: Record<string, string> = {
  client_encoding: 'UTF8',
  default_transaction_isolation: 'read committed',
  standard_conforming_strings: 'on',
  datestyle: 'ISO',
  timezone: 'GMT',
  extra_float_digits: '2',
};
/** `SET key = value` / `SET key TO value`, the value a word or a quoted string. */
const SET = /^\s*set\s+([a-z_]+)\s*(?:=|\s+to\s+)\s*('(?:[^']|'')*'|[a-z0-9_.-]+)\s*;?\s*$/i;

/** A console error: its SQLSTATE and message. */
class ConsoleError extends Error {
  readonly sqlstate: string;
  constructor(sqlstate: string, message: string) {
    super(message);
    this.sqlstate = sqlstate;
  }
}

export interface AdminConsoleOptions extends ConsoleSource {
  version: string;
  /** RELOAD: reads again what can be reloaded; says what it reloaded, or throws. */
  reload(): string[];
  log: Logger;
}

/**
 * The admin console behind the virtual databases `pgbouncer` and `poolpilot`: PgBouncer's
 * commands over the simple query protocol, one at a time. `stats` users may run SHOW; the rest
 * needs an `admin` user (see WireListener's consoleRole).
 */
export class AdminConsole implements ClientHandler {
  readonly #options: AdminConsoleOptions;
  readonly #sessions = new Set<AdminSession>();
  readonly #timer: NodeJS.Timeout;
  #period: { at: number; traffic: Map<string, TrafficCounters> }[];

  constructor(options: AdminConsoleOptions) {
    this.#options = options;
    this.#period = [this.#snapshot()];
    this.#timer = setInterval(() => {
      this.#period = [this.#period[this.#period.length - 1]!, this.#snapshot()];
    }, STATS_PERIOD_MS);
    this.#timer.unref();
  }

  attach(client: WireClient): ClientSession {
    const session = new AdminSession(client, this, () => this.#sessions.delete(session));
    this.#sessions.add(session);
    return session;
  }

  /** Console clients, as SHOW CLIENTS lists them beside the pool's. */
  sessions(): IterableIterator<AdminSession> {
    return this.#sessions.values();
  }

  close(): void {
    clearInterval(this.#timer);
  }

  get options(): AdminConsoleOptions {
    return this.#options;
  }

  /** The last completed stats period; before the first one ends, the time since start-up. */
  period(): Period {
    const last = this.#period[this.#period.length - 1]!;
    if (this.#period.length === 1) {
      const now = this.#snapshot();
      return { seconds: (now.at - last.at) / 1000, before: last.traffic, after: now.traffic };
    }
    const first = this.#period[0]!;
    return { seconds: (last.at - first.at) / 1000, before: first.traffic, after: last.traffic };
  }

  #snapshot(): { at: number; traffic: Map<string, TrafficCounters> } {
    const traffic = new Map<string, TrafficCounters>();
    for (const [name, c] of this.#options.poolpilot.clients.allTraffic()) traffic.set(name, { ...c });
    return { at: Date.now(), traffic };
  }
}

/** One console client. Commands run in the order they came; PAUSE holds the next until it is done. */
export class AdminSession implements ClientSession {
  readonly client: WireClient;
  readonly connectedAt = new Date();
  lastRequestAt: Date | null = null;
  readonly #console: AdminConsole;
  readonly #onClosed: () => void;
  #queue: Promise<void> = Promise.resolve();
  #running = false;

  constructor(client: WireClient, console: AdminConsole, onClosed: () => void) {
    this.client = client;
    this.#console = console;
    this.#onClosed = onClosed;
  }

  get running(): boolean {
    return this.#running;
  }

  busy(): boolean {
    return this.#running;
  }

  message(type: number, body: Buffer): void {
    if (type === Frontend.Terminate) {
      this.client.socket.end();
      return;
    }
    if (type !== Frontend.Query) {
      // Extended-protocol messages until Sync get one error, as PgBouncer's console answers them.
      if (type === Frontend.Sync) {
        this.client.error({
          code: SqlState.FeatureNotSupported,
          message: 'the admin console supports the simple query protocol only',
        });
        this.client.send(readyForQuery('I'));
      }
      return;
    }
    const end = body.indexOf(0);
    const sql = body.toString('utf8', 0, end === -1 ? body.length : end);
    this.#queue = this.#queue.then(() => this.#run(sql));
  }

  closed(): void {
    this.#onClosed();
  }

  async #run(sql: string): Promise<void> {
    if (this.client.closed) return;
    this.#running = true;
    this.lastRequestAt = new Date();
    try {
      if (sql.trim() === '' || sql.trim() === ';') {
        this.client.send(emptyQueryResponse);
      } else {
        const out = await this.#command(sql);
        if (out.notice) {
          this.client.send(
            noticeResponse({ severity: 'NOTICE', code: '00000', message: out.notice, detail: out.detail }),
          );
        }
        if (out.table) this.#sendTable(out.table);
        this.client.send(commandComplete(out.tag));
      }
    } catch (error) {
      const fields =
        error instanceof ConsoleError
          ? { code: error.sqlstate, message: error.message }
          : isPoolpilotError(error)
            ? {
                code:
                  typeof error.details.sqlstate === 'string'
                    ? error.details.sqlstate
                    : SqlState.InvalidParameterValue,
                message: error.message,
              }
            : { code: SqlState.InternalError, message: 'internal error' };
      if (!(error instanceof ConsoleError) && !isPoolpilotError(error)) {
        this.#console.options.log.error({ err: error, command: sql }, 'admin console command failed');
      }
      this.client.error(fields);
    } finally {
      this.#running = false;
      this.client.send(readyForQuery('I'));
    }
  }

  #sendTable(table: Table): void {
    this.client.send(rowDescription(table.columns.map((c) => ({ name: c.name, typeOid: c.typeOid }))));
    for (const row of table.rows) this.client.send(dataRow(row));
  }

  async #command(sql: string): Promise<{ tag: string; table?: Table; notice?: string; detail?: string }> {
    const set = SET.exec(sql);
    if (set) {
      if (set[1]!.toLowerCase() in FAKE_SETTINGS) return { tag: 'SET', notice: 'SET ignored' };
      throw new ConsoleError(
        SqlState.FeatureNotSupported,
        `SET ${set[1]} is not supported: poolpilot is configured by its environment`,
      );
    }
    const match = COMMAND.exec(sql);
    if (!match) throw new ConsoleError(SqlState.SyntaxError, `invalid command '${sql}', use SHOW HELP;`);
    const word = match[1]!.toLowerCase();
    const raw = match[2];
    const arg = raw?.startsWith('"') ? raw.slice(1, -1).replaceAll('""', '"') : (raw?.toLowerCase() ?? '');
    const o = this.#console.options;
    if (word === 'show' || word === 'select') {
      const show = (table: Table) => ({ tag: 'SHOW', table });
      const fake = FAKE_SETTINGS[arg];
      if (fake !== undefined) {
        return show({ columns: [{ name: arg, typeOid: TypeOid.text }], rows: [[fake]] });
      }
      switch (arg) {
        case 'pools':
          return show(showPools(o));
        case 'stats':
          return show(showStats(o, this.#console.period()));
        case 'stats_totals':
          return show(showStatsHalf(o, this.#console.period(), 'totals'));
        case 'stats_averages':
          return show(showStatsHalf(o, this.#console.period(), 'averages'));
        case 'clients':
          return show(showClients(o));
        case 'servers':
          return show(showServers(o));
        case 'databases':
          return show(showDatabases(o));
        case 'lists':
          return show(showLists(o));
        case 'config':
          return show(showConfig(o));
        case 'version':
          return show(showVersion(o.version));
        case 'routes':
          return show(showRoutes(o));
        case 'replication':
          return show(showReplication(o));
        case 'help':
          return { tag: 'SHOW', notice: 'Console usage', detail: `\n\t${HELP}` };
        default:
          throw new ConsoleError(SqlState.SyntaxError, `invalid command '${sql}', use SHOW HELP;`);
      }
    }
    const actions = ['pause', 'resume', 'reconnect', 'kill', 'kill_client', 'reload'];
    if (!actions.includes(word)) {
      throw new ConsoleError(SqlState.SyntaxError, `invalid command '${sql}', use SHOW HELP;`);
    }
    if (this.client.consoleRole !== 'admin') {
      throw new ConsoleError(SqlState.InsufficientPrivilege, 'admin access needed');
    }
    const control = o.poolpilot.control;
    const target = arg || null;
    o.log.info({ command: word, arg: target, user: this.client.user }, 'admin console command');
    switch (word) {
      case 'pause':
        await control.pause(target);
        return { tag: 'PAUSE' };
      case 'resume':
        control.resume(target);
        return { tag: 'RESUME' };
      case 'reconnect':
        control.reconnect(target);
        return { tag: 'RECONNECT' };
      case 'kill':
        control.kill(target);
        return { tag: 'KILL' };
      case 'kill_client': {
        if (!/^\d+$/.test(arg))
          throw new ConsoleError(SqlState.InvalidParameterValue, 'invalid client id supplied');
        control.killClient(Number(arg));
        return { tag: 'KILL_CLIENT' };
      }
      default: {
        if (arg) throw new ConsoleError(SqlState.SyntaxError, `invalid command '${sql}', use SHOW HELP;`);
        const reloaded = o.reload();
        return { tag: 'RELOAD', notice: `reloaded: ${reloaded.join(', ') || 'nothing to reload'}` };
      }
    }
  }
}
