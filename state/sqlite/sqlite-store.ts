/**
 * The SQLite file under the sqlite keyed state backend: one table of encoded rows, written and
 * read through one ordered queue of operations, plus read-only snapshots on extra connections.
 *
 *   kv(k BLOB, s INTEGER, v BLOB, PRIMARY KEY (k, s)) WITHOUT ROWID
 *   k = key blob (key group + state key, see key-blob.ts), s = state id, v = encodeValue(stored value)
 *
 * Invariants:
 *  1. Operations run one at a time, in the order of their enqueue() calls, on the writer
 *     connection. Every consistency argument of the backend rests on this order: a load enqueued
 *     after a write sees it; a snapshot opened by an operation sees exactly the writes enqueued
 *     before that operation.
 *  2. A snapshot is a read transaction on its own connection (WAL mode: readers do not block the
 *     writer, and keep their view while it commits). It is opened inside an operation, so no write
 *     enqueued later can precede it.
 *  3. A failed write leaves the file in an unknown state: the store is failed from then on, every
 *     later operation rejects with the first failure (a write-back lost would be wrong state).
 *  4. The file is scratch: the checkpoint is the durable copy. It is created fresh (a stale file of
 *     the same name is removed), written with synchronous=OFF, and deleted by destroy().
 */
import { rm, stat } from 'node:fs/promises';
import sqlite3, { type Database } from 'sqlite3';
import { causeOf, TroupeError } from '../../core/errors.js';

export interface StoredRow {
  readonly k: Buffer;
  readonly s: number;
  readonly v: Buffer;
}

/** Rows to write in one transaction; applied in the order: ranges deleted, rows deleted, rows upserted. */
export interface WriteBatch {
  /** [first key blob, exclusive end key blob] ranges to empty. */
  readonly deleteRanges: Array<readonly [Buffer, Buffer]>;
  readonly deletes: Array<readonly [Buffer, number]>;
  readonly upserts: Array<readonly [Buffer, number, Buffer]>;
}

export function emptyBatch(): WriteBatch {
  return { deleteRanges: [], deletes: [], upserts: [] };
}

export function batchRows(batch: WriteBatch): number {
  return batch.deleteRanges.length + batch.deletes.length + batch.upserts.length;
}

/** Rows per statement: JSON arrays of hex blobs keep the statements fixed and the bindings few. */
const CHUNK_ROWS = 2000;

const SCHEMA = 'CREATE TABLE kv (k BLOB NOT NULL, s INTEGER NOT NULL, v BLOB NOT NULL, PRIMARY KEY (k, s)) WITHOUT ROWID';
const UPSERT = 'INSERT OR REPLACE INTO kv (k, s, v) SELECT unhex(value ->> 0), value ->> 1, unhex(value ->> 2) FROM json_each(?)';
const DELETE_ROWS = 'DELETE FROM kv WHERE (k, s) IN (SELECT unhex(value ->> 0), value ->> 1 FROM json_each(?))';
const DELETE_RANGE = 'DELETE FROM kv WHERE k >= ? AND k < ?';
const LOAD = 'SELECT k, s, v FROM kv WHERE k IN (SELECT unhex(value) FROM json_each(?))';
const SCAN = 'SELECT k, s, v FROM kv WHERE k >= ? AND k < ? ORDER BY k, s';
const SCAN_AFTER = 'SELECT k, s, v FROM kv WHERE (k, s) > (?, ?) ORDER BY k, s LIMIT ?';

export class SqliteStore {
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;
  private failed: TroupeError | undefined;
  private readonly idleReaders: Database[] = [];
  private readonly readers = new Set<Database>();
  private destroyed: Promise<void> | undefined;
  /** Rows of writes enqueued and not yet committed. */
  pendingRows = 0;

  private constructor(
    readonly path: string,
    private readonly db: Database,
    /** Removed with the file when the store created it. */
    private readonly ownDir: string | undefined,
  ) {}

  static async create(path: string, ownDir?: string): Promise<SqliteStore> {
    try {
      await removeFiles(path);
      const db = await openDatabase(path, sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE);
      const store = new SqliteStore(path, db, ownDir);
      try {
        // 16 KiB pages before anything is written: with 4 KiB pages a WITHOUT ROWID row of a ~1 KiB
        // value spills to an overflow page (the database grew to 4.7x the state; bench/README.md)
        await exec(db, 'PRAGMA page_size = 16384');
        await exec(db, 'PRAGMA journal_mode = WAL');
        await exec(db, 'PRAGMA synchronous = OFF');
        await exec(db, 'PRAGMA cache_size = -16384');
        await exec(db, 'PRAGMA temp_store = MEMORY');
        await exec(db, SCHEMA);
      } catch (e) {
        await closeDatabase(db).catch(() => undefined);
        throw e;
      }
      return store;
    } catch (e) {
      if (e instanceof TroupeError) throw e;
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `the keyed state database ${path} cannot be created: ${causeOf(e).message}`, { cause: causeOf(e), details: { path } });
    }
  }

  get failure(): TroupeError | undefined {
    return this.failed;
  }

  /** True while operations are queued or running. */
  get busy(): boolean {
    return this.queued > 0;
  }

  /** Invariant 1: runs `op` after every operation enqueued before; a rejection of `op` fails the store when `fatal`. */
  enqueue<T>(op: () => Promise<T>, fatal = true): Promise<T> {
    this.queued++;
    const run = async (): Promise<T> => {
      if (this.failed !== undefined) throw this.failed;
      if (this.destroyed !== undefined) throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', `keyed state database ${this.path} is closed`);
      try {
        return await op();
      } catch (e) {
        if (fatal) this.failed ??= storeFailure(this.path, e);
        throw e;
      }
    };
    const result = this.tail.then(run);
    this.tail = result.then(
      () => this.queued--,
      () => this.queued--,
    );
    return result;
  }

  /** Resolves when every operation enqueued so far has run (whether it failed or not). */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }

  /** Enqueues a write; the returned promise never rejects (a failure fails the store, invariant 3). */
  write(batch: WriteBatch): Promise<void> {
    const rows = batchRows(batch);
    this.pendingRows += rows;
    return this.enqueue(() => this.writeNow(batch))
      .catch(() => undefined)
      .finally(() => {
        this.pendingRows -= rows;
      });
  }

  /** Writes one transaction; call only inside an operation. */
  async writeNow(batch: WriteBatch): Promise<void> {
    const db = this.db;
    // serialized connection: the statements run in this order; one await for all of them
    const done: Array<Promise<void>> = [exec(db, 'BEGIN')];
    for (const [from, to] of batch.deleteRanges) done.push(exec(db, DELETE_RANGE, [from, to]));
    for (let i = 0; i < batch.deletes.length; i += CHUNK_ROWS) {
      const json = batch.deletes
        .slice(i, i + CHUNK_ROWS)
        .map(([k, s]) => `["${k.toString('hex')}",${s}]`)
        .join(',');
      done.push(exec(db, DELETE_ROWS, [`[${json}]`]));
    }
    for (let i = 0; i < batch.upserts.length; i += CHUNK_ROWS) {
      const json = batch.upserts
        .slice(i, i + CHUNK_ROWS)
        .map(([k, s, v]) => `["${k.toString('hex')}",${s},"${v.toString('hex')}"]`)
        .join(',');
      done.push(exec(db, UPSERT, [`[${json}]`]));
    }
    done.push(exec(db, 'COMMIT'));
    const results = await Promise.allSettled(done);
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure !== undefined) {
      await exec(db, 'ROLLBACK').catch(() => undefined);
      throw failure.reason;
    }
  }

  /** The rows of the given key blobs (every state); call only inside an operation. */
  load(keys: readonly Buffer[]): Promise<StoredRow[]> {
    return loadFrom(this.db, keys);
  }

  /** The rows with from <= k < to, ordered; call only inside an operation. */
  scan(from: Buffer, to: Buffer): Promise<StoredRow[]> {
    return all<StoredRow>(this.db, SCAN, [from, to]);
  }

  /** At most `limit` rows after (k, s), ordered; call only inside an operation. */
  scanAfter(k: Buffer, s: number, limit: number): Promise<StoredRow[]> {
    return all<StoredRow>(this.db, SCAN_AFTER, [k, s, limit]);
  }

  /** Invariant 2: a read-only view of the table as of now; call only inside an operation. */
  async openSnapshot(): Promise<StoreSnapshot> {
    const reader = this.idleReaders.pop() ?? (await this.openReader());
    try {
      await exec(reader, 'BEGIN');
      // the first read fixes the snapshot (WAL read mark)
      await all(reader, 'SELECT 1 FROM kv LIMIT 1');
    } catch (e) {
      this.readers.delete(reader);
      await closeDatabase(reader).catch(() => undefined);
      throw storeFailure(this.path, e);
    }
    return new StoreSnapshot(reader, (healthy) => this.returnReader(reader, healthy));
  }

  private async openReader(): Promise<Database> {
    const reader = await openDatabase(this.path, sqlite3.OPEN_READWRITE);
    this.readers.add(reader);
    return reader;
  }

  private returnReader(reader: Database, healthy: boolean): void {
    if (healthy && this.destroyed === undefined && this.readers.has(reader)) {
      this.idleReaders.push(reader);
      return;
    }
    this.readers.delete(reader);
    void closeDatabase(reader).catch(() => undefined);
  }

  /** Waits for queued operations, closes every connection and removes the files. Idempotent. */
  destroy(): Promise<void> {
    return (this.destroyed ??= this.destroyNow());
  }

  private async destroyNow(): Promise<void> {
    await this.idle();
    const readers = [...this.readers];
    this.readers.clear();
    this.idleReaders.length = 0;
    await Promise.allSettled(readers.map((r) => closeDatabase(r)));
    await closeDatabase(this.db).catch(() => undefined);
    await removeFiles(this.path);
    if (this.ownDir !== undefined) await rm(this.ownDir, { recursive: true, force: true });
  }
}

/** A read transaction on its own connection (invariant 2). */
export class StoreSnapshot {
  private ended = false;

  constructor(
    private readonly reader: Database,
    private readonly giveBack: (healthy: boolean) => void,
  ) {}

  load(keys: readonly Buffer[]): Promise<StoredRow[]> {
    return loadFrom(this.reader, keys);
  }

  scan(from: Buffer, to: Buffer): Promise<StoredRow[]> {
    return all<StoredRow>(this.reader, SCAN, [from, to]);
  }

  /** Ends the read transaction and hands the connection back. Idempotent. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    exec(this.reader, 'ROLLBACK').then(
      () => this.giveBack(true),
      () => this.giveBack(false),
    );
  }
}

async function loadFrom(db: Database, keys: readonly Buffer[]): Promise<StoredRow[]> {
  const parts: Array<Promise<StoredRow[]>> = [];
  for (let i = 0; i < keys.length; i += CHUNK_ROWS) {
    const json = keys
      .slice(i, i + CHUNK_ROWS)
      .map((k) => `"${k.toString('hex')}"`)
      .join(',');
    parts.push(all<StoredRow>(db, LOAD, [`[${json}]`]));
  }
  return (await Promise.all(parts)).flat();
}

function storeFailure(path: string, e: unknown): TroupeError {
  if (e instanceof TroupeError) return e;
  return new TroupeError('TROUPE_TASK_FAILED', `keyed state database ${path} failed: ${causeOf(e).message}`, { cause: causeOf(e), details: { path } });
}

function openDatabase(path: string, mode: number): Promise<Database> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(path, mode, (err) => {
      if (err !== null) reject(err);
      else {
        // one statement at a time, in call order (invariant 1 inside an operation)
        db.serialize();
        resolve(db);
      }
    });
  });
}

function closeDatabase(db: Database): Promise<void> {
  return new Promise((resolve, reject) => db.close((err) => (err === null ? resolve() : reject(err))));
}

function exec(db: Database, sql: string, params: unknown[] = []): Promise<void> {
  return new Promise((resolve, reject) => db.run(sql, params, (err: Error | null) => (err === null ? resolve() : reject(err))));
}

function all<T>(db: Database, sql: string, params: unknown[] = []): Promise<T[]> {
  return new Promise((resolve, reject) => db.all<T>(sql, params, (err, rows) => (err === null ? resolve(rows) : reject(err))));
}

async function removeFiles(path: string): Promise<void> {
  for (const suffix of ['', '-wal', '-shm', '-journal']) {
    const file = path + suffix;
    try {
      const s = await stat(file);
      if (s.isDirectory()) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `the keyed state database path ${file} is a directory`, { details: { path: file } });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw e;
    }
    await rm(file, { force: true });
  }
}
