/**
 * Exactly-once rows in a SQLite table, by two-phase commit (two-phase-commit-sink.ts).
 *
 * A transaction's rows are buffered in memory. Pre-commit stages them in `_troupe_pending(txn, seq,
 * row)` (row = a JSON array of the column values) in one SQLite transaction; commit moves them in
 * one SQLite transaction: `INSERT INTO <table> (...) SELECT ... FROM _troupe_pending WHERE txn = ?
 * ORDER BY seq`, delete the staged rows, record the id in `_troupe_committed`. That table makes
 * commit idempotent (checked first, inside the same transaction) and tells a lost transaction (neither
 * staged nor committed → TROUPE_CHECKPOINT_CORRUPT) from a committed one. It grows by one row per
 * checkpoint and subtask; rows older than any checkpoint or savepoint one may restore can be deleted.
 *
 * The database runs in WAL mode with synchronous=FULL, so a staged transaction survives power loss.
 * Several subtasks (and processes) may share one database: writes use BEGIN IMMEDIATE, a busy timeout,
 * and retries on SQLITE_BUSY. Values: string, finite number, boolean (1/0), bigint (int64), null or
 * undefined (NULL), Buffer/Uint8Array (BLOB), Date (ISO text), plain objects and arrays (JSON text).
 */
import * as path from 'node:path';
import * as sqlite3 from 'sqlite3';
import { TroupeError, causeOf } from '../../../core/errors.js';
import type { SinkContext } from '../sink.js';
import { TransactionalWriter, TwoPhaseCommitSink, type Leftover } from './two-phase-commit-sink.js';

export interface SqliteSinkOptions<T> {
  /** Target columns; default: every column of the table (PRAGMA table_info) when the sink opens. */
  readonly columns?: readonly string[];
  /** Record → row, by column name or positionally; default: the record itself. */
  readonly toRow?: (record: T) => Readonly<Record<string, unknown>> | readonly unknown[];
  /** DDL run once when the table does not exist yet. */
  readonly createTable?: string;
  /** Columns of a UNIQUE or PRIMARY KEY constraint: a row with an existing key updates it. */
  readonly upsertKey?: readonly string[];
  /** How long a writer waits in all for another connection's write lock (default 30 s). */
  readonly busyTimeoutMs?: number;
}

export interface SqliteTransaction {
  readonly id: string;
  readonly dbFile: string;
  readonly table: string;
  readonly columns: readonly string[];
  readonly upsertKey: readonly string[];
  /** Encoded rows while open; emptied once staged. */
  rows: string[];
  count: number;
  staged: boolean;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/**
 * SQLite's own busy wait blocks a libuv pool thread: a few subtasks of one process waiting on each
 * other could take every pool thread, and the lock holder's COMMIT none would be left to run. So
 * writers of one process queue per database file in JS, SQLite waits briefly, and the rest of the
 * wait (up to busyTimeoutMs in all) is JS backoff.
 */
const SQLITE_BUSY_WAIT_MS = 50;
const fileQueues = new Map<string, Promise<unknown>>();
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** Characters of staged JSON per INSERT (rows are staged in batches through json_each). */
const STAGE_BATCH_CHARS = 4 * 1024 * 1024;

export class SqliteSink<T = Record<string, unknown>> extends TwoPhaseCommitSink<T, SqliteTransaction> {
  private constructor(
    readonly dbFile: string,
    readonly table: string,
    private readonly options: SqliteSinkOptions<T>,
  ) {
    super();
  }

  static forTable<T = Record<string, unknown>>(dbFile: string, table: string, options: SqliteSinkOptions<T> = {}): SqliteSink<T> {
    if (typeof dbFile !== 'string' || dbFile.trim() === '' || dbFile === ':memory:' || dbFile.startsWith('file:')) {
      throw invalid(`SqliteSink needs a database file path (not ':memory:' nor a URI), got ${String(dbFile)}`);
    }
    checkIdentifier(table, 'table');
    if (options === null || typeof options !== 'object') throw invalid('SqliteSink options must be an object');
    const { columns, toRow, createTable, upsertKey, busyTimeoutMs } = options;
    if (columns !== undefined) checkColumns(columns, 'columns');
    if (upsertKey !== undefined) {
      checkColumns(upsertKey, 'upsertKey');
      const missing = columns === undefined ? [] : upsertKey.filter((k) => !columns.includes(k));
      if (missing.length > 0) throw invalid(`SqliteSink upsertKey names columns not in columns: ${missing.join(', ')}`);
    }
    if (toRow !== undefined && typeof toRow !== 'function') throw invalid('SqliteSink toRow must be a function');
    if (createTable !== undefined && (typeof createTable !== 'string' || createTable.trim() === '')) throw invalid('SqliteSink createTable must be a DDL statement');
    if (busyTimeoutMs !== undefined && (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0)) {
      throw invalid(`SqliteSink busyTimeoutMs must be a non-negative integer, got ${String(busyTimeoutMs)}`);
    }
    return new SqliteSink<T>(path.resolve(dbFile), table, options);
  }

  /** Two SqliteSinks of one job may share an operator name when they write different tables. */
  protected override transactionScope(ctx: SinkContext): string {
    return `${ctx.operatorName}@${this.table}`;
  }

  protected override createTransactionalWriter(_ctx: SinkContext): TransactionalWriter<T, SqliteTransaction> {
    return new SqliteTransactions<T>(this.dbFile, this.table, this.options);
  }
}

class SqliteTransactions<T> extends TransactionalWriter<T, SqliteTransaction> {
  readonly kind = 'sqlite-table';
  private db: Connection | undefined;
  /** Connections to other database files named by restored transactions. */
  private readonly others = new Map<string, Connection>();
  private columns: readonly string[] | undefined;
  private readonly upsertKey: readonly string[];
  private readonly busyTimeoutMs: number;

  constructor(
    private readonly dbFile: string,
    private readonly table: string,
    private readonly options: SqliteSinkOptions<T>,
  ) {
    super();
    this.columns = options.columns?.slice();
    this.upsertKey = options.upsertKey?.slice() ?? [];
    this.busyTimeoutMs = options.busyTimeoutMs ?? 30_000;
  }

  override async open(): Promise<void> {
    const db = (this.db = await Connection.open(this.dbFile, this.busyTimeoutMs));
    try {
      await db.transaction(async () => {
        const exists = await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?`, [this.table]);
        if (exists?.n === 0 && this.options.createTable !== undefined) await db.exec(this.options.createTable);
        await db.exec(
          `CREATE TABLE IF NOT EXISTS _troupe_pending (txn TEXT NOT NULL, seq INTEGER NOT NULL, row TEXT NOT NULL, PRIMARY KEY (txn, seq)) WITHOUT ROWID;
           CREATE TABLE IF NOT EXISTS _troupe_committed (txn TEXT PRIMARY KEY, rows INTEGER NOT NULL, committed_at INTEGER NOT NULL) WITHOUT ROWID;`,
        );
      });
      if (this.columns === undefined) {
        const info = await db.all<{ name: string }>(`PRAGMA table_info(${quote(this.table)})`);
        if (info.length === 0) throw invalid(`SqliteSink: table ${this.table} does not exist in ${this.dbFile}; pass createTable`);
        this.columns = info.map((c) => c.name);
        checkColumns(this.columns, 'columns of the table');
        const missing = this.upsertKey.filter((k) => !this.columns!.includes(k));
        if (missing.length > 0) throw invalid(`SqliteSink upsertKey names columns the table lacks: ${missing.join(', ')}`);
      }
      // Compiling the commit statement checks the table, the columns and the upsert target now.
      await db.check(commitSql(this.table, this.columns, this.upsertKey));
    } catch (error) {
      if (error instanceof TroupeError) throw error;
      throw invalid(`SqliteSink cannot use table ${this.table} in ${this.dbFile}: ${causeOf(error).message}`, error);
    }
  }

  beginTransaction(id: string): SqliteTransaction {
    if (this.columns === undefined) throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', 'SqliteSink writer used before open()');
    return { id, dbFile: this.dbFile, table: this.table, columns: this.columns, upsertKey: this.upsertKey, rows: [], count: 0, staged: false };
  }

  write(txn: SqliteTransaction, value: T): void {
    const row = this.options.toRow !== undefined ? this.options.toRow(value) : value;
    txn.rows.push(encodeRow(row, txn.columns));
    txn.count++;
  }

  isEmpty(txn: SqliteTransaction): boolean {
    return txn.count === 0;
  }

  async preCommit(txn: SqliteTransaction): Promise<void> {
    const db = await this.connection(txn.dbFile);
    await db.transaction(async () => {
      const seen = await db.get(`SELECT 1 AS x FROM _troupe_committed WHERE txn = ? UNION ALL SELECT 1 FROM _troupe_pending WHERE txn = ? LIMIT 1`, [txn.id, txn.id]);
      if (seen !== undefined) {
        throw invalid(`SqliteSink: transaction ${txn.id} exists already: two sinks of one job write table ${txn.table} under one operator name; give them distinct names`);
      }
      let seq = 0;
      while (seq < txn.rows.length) {
        const batch: string[] = [];
        let chars = 0;
        while (seq + batch.length < txn.rows.length && (batch.length === 0 || chars < STAGE_BATCH_CHARS)) {
          const row = txn.rows[seq + batch.length]!;
          batch.push(row);
          chars += row.length;
        }
        await db.run(`INSERT INTO _troupe_pending (txn, seq, row) SELECT ?, ? + CAST(key AS INTEGER), value FROM json_each(?)`, [txn.id, seq, `[${batch.join(',')}]`]);
        seq += batch.length;
      }
    });
    txn.rows = [];
    txn.staged = true;
  }

  async commit(txn: SqliteTransaction): Promise<void> {
    const db = await this.connection(txn.dbFile);
    await db.transaction(async () => {
      if ((await db.get(`SELECT 1 AS x FROM _troupe_committed WHERE txn = ?`, [txn.id])) !== undefined) return;
      const staged = await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM _troupe_pending WHERE txn = ?`, [txn.id]);
      if (staged?.n !== txn.count) {
        throw new TroupeError(
          'TROUPE_CHECKPOINT_CORRUPT',
          `SqliteSink: transaction ${txn.id} should have ${txn.count} staged rows in ${txn.dbFile} but has ${staged?.n ?? 0} and was never committed`,
        );
      }
      await db.run(commitSql(txn.table, txn.columns, txn.upsertKey), [txn.id]);
      await db.run(`DELETE FROM _troupe_pending WHERE txn = ?`, [txn.id]);
      await db.run(`INSERT INTO _troupe_committed (txn, rows, committed_at) VALUES (?, ?, ?)`, [txn.id, txn.count, Date.now()]);
    });
  }

  async abort(txn: SqliteTransaction): Promise<void> {
    txn.rows = [];
    if (!txn.staged) return;
    const db = await this.connection(txn.dbFile);
    await db.transaction(() => db.run(`DELETE FROM _troupe_pending WHERE txn = ?`, [txn.id]));
  }

  toState(txn: SqliteTransaction): unknown {
    return { dbFile: txn.dbFile, table: txn.table, columns: txn.columns, upsertKey: txn.upsertKey, rows: txn.count };
  }

  fromState(id: string, state: unknown): SqliteTransaction {
    const s = state as { dbFile?: unknown; table?: unknown; columns?: unknown; upsertKey?: unknown; rows?: unknown } | null;
    // The names go into SQL: a restored state is validated as strictly as the options.
    const ok =
      typeof s === 'object' &&
      s !== null &&
      typeof s.dbFile === 'string' &&
      path.isAbsolute(s.dbFile) &&
      isIdentifier(s.table) &&
      isIdentifierList(s.columns) &&
      s.columns.length > 0 &&
      isIdentifierList(s.upsertKey) &&
      Number.isInteger(s.rows);
    if (!ok) throw new TroupeError('TROUPE_CHECKPOINT_CORRUPT', `SqliteSink: restored transaction ${id} is malformed`);
    return { id, dbFile: s.dbFile as string, table: s.table as string, columns: s.columns as string[], upsertKey: s.upsertKey as string[], rows: [], count: s.rows as number, staged: true };
  }

  override async listLeftovers(prefix: string): Promise<Array<Leftover<SqliteTransaction>>> {
    const lead = `${prefix}_`;
    const rows = await this.db!.all<{ txn: string }>(`SELECT DISTINCT txn FROM _troupe_pending WHERE substr(txn, 1, ?) = ?`, [lead.length, lead]);
    return rows.map(({ txn: id }) => ({
      id,
      sealed: true,
      txn: { id, dbFile: this.dbFile, table: this.table, columns: this.columns ?? [], upsertKey: this.upsertKey, rows: [], count: 0, staged: true },
    }));
  }

  override async close(): Promise<void> {
    const all = [...this.others.values(), ...(this.db !== undefined ? [this.db] : [])];
    this.others.clear();
    this.db = undefined;
    for (const c of all) await c.close();
  }

  private async connection(dbFile: string): Promise<Connection> {
    if (dbFile === this.dbFile && this.db !== undefined) return this.db;
    let c = this.others.get(dbFile);
    if (c === undefined) this.others.set(dbFile, (c = await Connection.open(dbFile, this.busyTimeoutMs)));
    return c;
  }
}

function commitSql(table: string, columns: readonly string[], upsertKey: readonly string[]): string {
  const values = columns.map((_c, i) => `CASE json_type(row, '$[${i}]') WHEN 'object' THEN unhex(json_extract(row, '$[${i}].hex')) ELSE json_extract(row, '$[${i}]') END`);
  let sql = `INSERT INTO ${quote(table)} (${columns.map(quote).join(', ')}) SELECT ${values.join(', ')} FROM _troupe_pending WHERE txn = ? ORDER BY seq`;
  if (upsertKey.length > 0) {
    const rest = columns.filter((c) => !upsertKey.includes(c));
    sql += ` ON CONFLICT (${upsertKey.map(quote).join(', ')}) DO ${rest.length === 0 ? 'NOTHING' : `UPDATE SET ${rest.map((c) => `${quote(c)} = excluded.${quote(c)}`).join(', ')}`}`;
  }
  return sql;
}

/** A row as a JSON array in column order; blobs as {"hex": ...} (decoded by the commit statement). */
function encodeRow(row: unknown, columns: readonly string[]): string {
  let values: unknown[];
  if (Array.isArray(row)) {
    if (row.length !== columns.length) throw notSerializable(`SqliteSink: a row array has ${row.length} values for ${columns.length} columns`);
    values = row;
  } else if (typeof row === 'object' && row !== null) {
    const r = row as Record<string, unknown>;
    values = columns.map((c) => r[c]);
  } else {
    throw notSerializable(`SqliteSink: a record must map to an object or an array of column values (use toRow), got ${typeof row}`);
  }
  return `[${values.map((v, i) => encodeValue(v, columns[i]!)).join(',')}]`;
}

function encodeValue(v: unknown, column: string): string {
  switch (typeof v) {
    case 'undefined':
      return 'null';
    case 'string':
      return JSON.stringify(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(v)) throw notSerializable(`SqliteSink: column ${column} got ${v}`);
      return JSON.stringify(v);
    case 'bigint':
      if (v < INT64_MIN || v > INT64_MAX) throw notSerializable(`SqliteSink: column ${column} got ${v}, outside SQLite's 64-bit integers`);
      return v.toString();
    case 'object': {
      if (v === null) return 'null';
      if (v instanceof Uint8Array) return `{"hex":"${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}"}`;
      if (v instanceof Date) {
        if (Number.isNaN(v.getTime())) throw notSerializable(`SqliteSink: column ${column} got an invalid Date`);
        return JSON.stringify(v.toISOString());
      }
      let json: string | undefined;
      try {
        json = JSON.stringify(v);
      } catch (error) {
        throw notSerializable(`SqliteSink: column ${column} holds a value with no JSON form: ${causeOf(error).message}`, error);
      }
      return JSON.stringify(json);
    }
    default:
      throw notSerializable(`SqliteSink: column ${column} got a ${typeof v}`);
  }
}

/** A promise face over one sqlite3 connection; the caller runs one statement at a time. */
class Connection {
  private constructor(
    private readonly db: sqlite3.Database,
    readonly file: string,
    private readonly busyTimeoutMs: number,
  ) {}

  static async open(file: string, busyTimeoutMs: number): Promise<Connection> {
    let db: sqlite3.Database;
    try {
      db = await new Promise<sqlite3.Database>((resolve, reject) => {
        const d = new sqlite3.Database(file, (error) => (error === null ? resolve(d) : reject(error)));
      });
    } catch (error) {
      throw invalid(`SqliteSink cannot open database ${file}: ${causeOf(error).message}`, error);
    }
    db.configure('busyTimeout', Math.min(busyTimeoutMs, SQLITE_BUSY_WAIT_MS));
    const c = new Connection(db, file, busyTimeoutMs);
    try {
      await c.exclusively(() => c.retryBusy(() => c.get(`PRAGMA journal_mode = WAL`)));
      await c.exec(`PRAGMA synchronous = FULL`);
    } catch (error) {
      await c.close().catch(() => undefined);
      throw invalid(`SqliteSink cannot use database ${file}: ${causeOf(error).message}`, error);
    }
    return c;
  }

  /** BEGIN IMMEDIATE … COMMIT, rolled back on error, retried as a whole while the database is busy. */
  transaction<R>(body: () => Promise<R>): Promise<R> {
    const once = async (): Promise<R> => {
      await this.exec('BEGIN IMMEDIATE');
      try {
        const result = await body();
        await this.exec('COMMIT');
        return result;
      } catch (error) {
        await this.exec('ROLLBACK').catch(() => undefined);
        throw error;
      }
    };
    return this.exclusively(() => this.retryBusy(once));
  }

  /** One writer of this process at a time per database file. */
  private exclusively<R>(op: () => Promise<R>): Promise<R> {
    const result = (fileQueues.get(this.file) ?? Promise.resolve()).then(op);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    fileQueues.set(this.file, tail);
    void tail.then(() => {
      if (fileQueues.get(this.file) === tail) fileQueues.delete(this.file);
    });
    return result;
  }

  private async retryBusy<R>(op: () => Promise<R>): Promise<R> {
    const deadline = Date.now() + this.busyTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await op();
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if ((code !== 'SQLITE_BUSY' && code !== 'SQLITE_LOCKED') || Date.now() >= deadline) throw error;
        const backoff = Math.min(500, 5 * 2 ** attempt) * (0.5 + Math.random());
        await new Promise((r) => setTimeout(r, Math.max(0, Math.min(backoff, deadline - Date.now()))));
      }
    }
  }

  run(sql: string, params: unknown[] = []): Promise<void> {
    return new Promise((resolve, reject) => this.db.run(sql, params, (error: Error | null) => (error === null ? resolve() : reject(error))));
  }
  get<R = unknown>(sql: string, params: unknown[] = []): Promise<R | undefined> {
    return new Promise((resolve, reject) => this.db.get(sql, params, (error: Error | null, row: R | undefined) => (error === null ? resolve(row) : reject(error))));
  }
  all<R = unknown>(sql: string, params: unknown[] = []): Promise<R[]> {
    return new Promise((resolve, reject) => this.db.all(sql, params, (error: Error | null, rows: R[]) => (error === null ? resolve(rows) : reject(error))));
  }
  exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => this.db.exec(sql, (error: Error | null) => (error === null ? resolve() : reject(error))));
  }
  /** Compiles a statement without running it. */
  check(sql: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const statement = this.db.prepare(sql, (error: Error | null) => {
        if (error !== null) reject(error);
        else statement.finalize(() => resolve());
      });
    });
  }
  close(): Promise<void> {
    return new Promise((resolve, reject) => this.db.close((error: Error | null) => (error === null ? resolve() : reject(error))));
  }
}

function quote(identifier: string): string {
  return `"${identifier}"`;
}

function isIdentifier(value: unknown): value is string {
  return typeof value === 'string' && IDENTIFIER.test(value) && !value.toLowerCase().startsWith('_troupe_');
}

function isIdentifierList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every(isIdentifier) && new Set(value).size === value.length;
}

function checkIdentifier(value: unknown, what: string): void {
  if (!isIdentifier(value)) throw invalid(`SqliteSink ${what} must match ${IDENTIFIER.source} and not start with _troupe_, got ${JSON.stringify(value) ?? String(value)}`);
}

function checkColumns(value: unknown, what: string): void {
  if (!Array.isArray(value) || value.length === 0) throw invalid(`SqliteSink ${what} must be a non-empty array of column names`);
  for (const c of value) checkIdentifier(c, `${what} entry`);
  if (new Set(value).size !== value.length) throw invalid(`SqliteSink ${what} names a column twice`);
}

function invalid(message: string, cause?: unknown): TroupeError {
  return new TroupeError('TROUPE_INVALID_ARGUMENT', message, cause !== undefined ? { cause: causeOf(cause) } : {});
}

function notSerializable(message: string, cause?: unknown): TroupeError {
  return new TroupeError('TROUPE_RECORD_NOT_SERIALIZABLE', message, cause !== undefined ? { cause: causeOf(cause) } : {});
}
