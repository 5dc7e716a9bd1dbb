/**
 * SqliteSink.forTable (api/datastream/sinks/sqlite-sink.ts): the two-phase commit protocol on a real
 * SQLite file in a temp dir, driven without the runtime (createWriter, write, snapshotState, notify...).
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as sqlite3 from 'sqlite3';
import { SqliteSink, type SqliteSinkOptions } from '../../api/datastream/sinks/sqlite-sink.js';
import type { SinkContext, SinkWriter } from '../../api/datastream/sink.js';
import type { TroupeError } from '../../core/errors.js';

const roots: string[] = [];
function tempDb(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'troupe-sqlite-sink-'));
  roots.push(root);
  return path.join(root, 'out.db');
}
test.after.always(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

const DDL = 'CREATE TABLE events (n INTEGER NOT NULL, label TEXT)';
const OPTIONS: SqliteSinkOptions<Rec> = { createTable: DDL };
interface Rec {
  n: number;
  label?: string;
}

function context(over: Partial<SinkContext> = {}): SinkContext {
  return { subtaskIndex: 0, parallelism: 1, operatorName: 'Sink', attempt: 0, jobId: 'job1', checkpointing: true, collect: () => undefined, ...over };
}

async function opened<T = Rec>(db: string, over: Partial<SinkContext> = {}, options: SqliteSinkOptions<T> = OPTIONS as SqliteSinkOptions<T>, table = 'events'): Promise<SinkWriter<T>> {
  const writer = SqliteSink.forTable<T>(db, table, options).createWriter(context(over));
  await writer.open?.();
  return writer;
}

function writeAll(writer: SinkWriter<Rec>, ...ns: number[]): void {
  for (const n of ns) writer.write({ n, label: `r${n}` });
}

async function query<R = Record<string, unknown>>(db: string, sql: string): Promise<R[]> {
  const conn = new sqlite3.Database(db);
  try {
    return await new Promise<R[]>((resolve, reject) => conn.all(sql, (error: Error | null, rows: R[]) => (error === null ? resolve(rows) : reject(error))));
  } finally {
    await new Promise((resolve) => conn.close(resolve));
  }
}

const ns = async (db: string): Promise<number[]> => (await query<{ n: number }>(db, 'SELECT n FROM events ORDER BY n')).map((r) => r.n);
const staged = async (db: string): Promise<number> => (await query<{ c: number }>(db, 'SELECT COUNT(*) AS c FROM _troupe_pending'))[0]!.c;

test('sqlite sink - nothing is visible before commit; completion inserts the rows and records the transaction', async (t) => {
  const db = tempDb();
  const w = await opened(db);
  writeAll(w, 1, 2);
  t.is(await staged(db), 0, 'open transactions live in memory');
  const state = await w.snapshotState!(1);
  writeAll(w, 3);
  t.deepEqual(await ns(db), []);
  t.is(await staged(db), 2);
  t.like(state[0], { v: 1, kind: 'sqlite-table', checkpointId: 1, txn: { dbFile: db, table: 'events', columns: ['n', 'label'], rows: 2 } });
  await w.notifyCheckpointComplete!(1);
  t.deepEqual(await query(db, 'SELECT n, label FROM events ORDER BY n'), [
    { n: 1, label: 'r1' },
    { n: 2, label: 'r2' },
  ]);
  t.is(await staged(db), 0);
  t.deepEqual(
    (await query<{ txn: string; rows: number }>(db, 'SELECT txn, rows FROM _troupe_committed')).map((r) => [r.txn, r.rows]),
    [[(state[0] as { id: string }).id, 2]],
  );
  t.deepEqual(await query(db, 'PRAGMA journal_mode'), [{ journal_mode: 'wal' }]);
  await w.close!();
});

test('sqlite sink - an aborted checkpoint keeps its rows staged until a later completion', async (t) => {
  const db = tempDb();
  const w = await opened(db);
  writeAll(w, 1);
  await w.snapshotState!(1);
  await w.notifyCheckpointAborted!(1);
  writeAll(w, 2);
  t.is((await w.snapshotState!(2)).length, 2);
  t.deepEqual(await ns(db), []);
  await w.notifyCheckpointComplete!(2);
  t.deepEqual(await ns(db), [1, 2]);
  await w.close!();
});

test('sqlite sink - crash mid-transaction and restore at attempt+1: every row exactly once, staged orphans removed', async (t) => {
  const db = tempDb();
  const a0 = await opened(db);
  writeAll(a0, 1, 2);
  await a0.snapshotState!(1);
  await a0.notifyCheckpointComplete!(1);
  writeAll(a0, 3);
  const state2 = await a0.snapshotState!(2); // completes; the notification is lost
  writeAll(a0, 4);
  await a0.snapshotState!(3); // never completes
  writeAll(a0, 5);
  await a0.close!(); // the crash: the connection goes, the open transaction with it

  const a1 = await opened(db, { attempt: 1, restoredState: state2 });
  t.deepEqual(await ns(db), [1, 2, 3]);
  t.is(await staged(db), 1, 'the staged transaction of checkpoint 3 waits for the first completion (6b)');
  writeAll(a1, 4, 5);
  await a1.snapshotState!(3);
  await a1.notifyCheckpointComplete!(3);
  t.is(await staged(db), 0);
  writeAll(a1, 6);
  await a1.flush!();
  await a1.close!();
  t.deepEqual(await ns(db), [1, 2, 3, 4, 5, 6]);
});

test('sqlite sink - commit is idempotent: the same state recovered twice inserts once', async (t) => {
  const db = tempDb();
  const a0 = await opened(db);
  writeAll(a0, 1);
  const state = await a0.snapshotState!(1);
  await a0.notifyCheckpointComplete!(1);
  await a0.close!();
  for (const attempt of [1, 2]) await (await opened(db, { attempt, restoredState: state })).close!();
  t.deepEqual(await ns(db), [1]);
});

test('sqlite sink - rescale 2 → 1: concurrent subtasks share one database, one writer commits both states', async (t) => {
  const db = tempDb();
  const old = await Promise.all([opened(db, { parallelism: 2 }), opened(db, { parallelism: 2, subtaskIndex: 1 })]);
  writeAll(old[0], 1, 3);
  writeAll(old[1], 2, 4);
  const states = await Promise.all(old.map((w) => w.snapshotState!(1)));
  for (const w of old) await w.close!();
  const merged = await opened(db, { attempt: 1, restoredState: states.flat() });
  t.deepEqual(await ns(db), [1, 2, 3, 4]);
  await merged.close!();
});

test('sqlite sink - many subtasks committing at once wait for each other instead of failing', async (t) => {
  const db = tempDb();
  const writers = await Promise.all(Array.from({ length: 6 }, (_x, i) => opened(db, { parallelism: 6, subtaskIndex: i })));
  for (let checkpoint = 1; checkpoint <= 3; checkpoint++) {
    writers.forEach((w, i) => writeAll(w, ...Array.from({ length: 200 }, (_y, k) => checkpoint * 10_000 + i * 1000 + k)));
    await Promise.all(writers.map((w) => w.snapshotState!(checkpoint)));
    await Promise.all(writers.map((w) => Promise.resolve(w.notifyCheckpointComplete!(checkpoint))));
  }
  await Promise.all(writers.map((w) => Promise.resolve(w.close!())));
  const rows = await ns(db);
  t.is(rows.length, 6 * 3 * 200);
  t.is(new Set(rows).size, rows.length);
});

test('sqlite sink - flush commits everything; without checkpointing only flush commits', async (t) => {
  const db = tempDb();
  const w = await opened(db, { checkpointing: false });
  writeAll(w, 1, 2, 3);
  t.deepEqual(await ns(db), []);
  await w.flush!();
  await w.close!();
  t.deepEqual(await ns(db), [1, 2, 3]);
});

test('sqlite sink - values keep their types: blob, boolean, bigint, Date, JSON, null', async (t) => {
  const db = tempDb();
  const w = await opened<Record<string, unknown>>(db, {}, { createTable: 'CREATE TABLE v (b BLOB, f INTEGER, big INTEGER, d TEXT, j TEXT, x REAL, nul TEXT)' }, 'v');
  w.write({ b: Buffer.from([0, 1, 255]), f: true, big: 2n ** 62n, d: new Date(0), j: { a: [1, 'two'] }, x: 1.5, nul: null });
  w.write({ b: new Uint8Array([7]), f: false, big: -3n, d: undefined, j: [1], x: -0.25 });
  await w.flush!();
  await w.close!();
  const rows = await query<Record<string, unknown>>(
    db,
    'SELECT b, typeof(b) AS tb, f, big, CAST(big AS TEXT) AS bigText, d, j, x, typeof(x) AS tx, nul, typeof(nul) AS tn FROM v ORDER BY rowid',
  );
  t.deepEqual(rows[0], {
    b: Buffer.from([0, 1, 255]),
    tb: 'blob',
    f: 1,
    big: 2 ** 62,
    bigText: (2n ** 62n).toString(),
    d: '1970-01-01T00:00:00.000Z',
    j: '{"a":[1,"two"]}',
    x: 1.5,
    tx: 'real',
    nul: null,
    tn: 'null',
  });
  t.like(rows[1], { b: Buffer.from([7]), f: 0, big: -3, d: null, j: '[1]', x: -0.25 });
});

test('sqlite sink - toRow maps records, columns default to the table, upsertKey updates in record order', async (t) => {
  const db = tempDb();
  const w = await opened<{ id: string; count: number }>(
    db,
    {},
    { createTable: 'CREATE TABLE counts (k TEXT PRIMARY KEY, c INTEGER)', toRow: (r) => [r.id, r.count], upsertKey: ['k'] },
    'counts',
  );
  w.write({ id: 'a', count: 1 });
  w.write({ id: 'b', count: 1 });
  w.write({ id: 'a', count: 2 });
  await w.snapshotState!(1);
  w.write({ id: 'a', count: 3 });
  await w.notifyCheckpointComplete!(1);
  t.deepEqual(await query(db, 'SELECT k, c FROM counts ORDER BY k'), [
    { k: 'a', c: 2 },
    { k: 'b', c: 1 },
  ]);
  await w.flush!();
  await w.close!();
  t.deepEqual(await query(db, 'SELECT k, c FROM counts ORDER BY k'), [
    { k: 'a', c: 3 },
    { k: 'b', c: 1 },
  ]);
});

test('sqlite sink - a bad value is a coded error and committed rows stay intact', async (t) => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  for (const bad of [Number.NaN, Infinity, 2n ** 64n, () => 1, Symbol('s'), cyclic, new Date(Number.NaN)]) {
    const db = tempDb();
    const w = await opened<Record<string, unknown>>(db);
    w.write({ n: 1 });
    await w.snapshotState!(1);
    await w.notifyCheckpointComplete!(1);
    w.write({ n: 2 });
    t.is(t.throws<TroupeError>(() => w.write({ n: 3, label: bad }))?.code, 'TROUPE_RECORD_NOT_SERIALIZABLE');
    await t.throwsAsync(w.snapshotState!(2));
    await w.close!();
    t.deepEqual(await ns(db), [1]);
    t.is(await staged(db), 0);
  }
  const db = tempDb();
  const w = await opened<unknown>(db);
  t.is(t.throws<TroupeError>(() => w.write('a string is no row'))?.code, 'TROUPE_RECORD_NOT_SERIALIZABLE');
  await w.close!();
});

test('sqlite sink - bad table, column or file names are TROUPE_INVALID_ARGUMENT before anything is written', (t) => {
  const bad: Array<() => unknown> = [
    () => SqliteSink.forTable('/tmp/x.db', 'events; DROP TABLE x'),
    () => SqliteSink.forTable('/tmp/x.db', '_troupe_pending'),
    () => SqliteSink.forTable('/tmp/x.db', 'events', { columns: ['n', 'n'] }),
    () => SqliteSink.forTable('/tmp/x.db', 'events', { columns: ['a"b'] }),
    () => SqliteSink.forTable('/tmp/x.db', 'events', { columns: [] }),
    () => SqliteSink.forTable('/tmp/x.db', 'events', { columns: ['n'], upsertKey: ['k'] }),
    () => SqliteSink.forTable('', 'events'),
    () => SqliteSink.forTable(':memory:', 'events'),
    () => SqliteSink.forTable('/tmp/x.db', 'events', { busyTimeoutMs: -1 }),
  ];
  for (const make of bad) t.is(t.throws<TroupeError>(make)?.code, 'TROUPE_INVALID_ARGUMENT');
});

test('sqlite sink - an unusable database or table fails open with TROUPE_INVALID_ARGUMENT', async (t) => {
  const db = tempDb();
  const notADb = path.join(path.dirname(db), 'text.db');
  fs.writeFileSync(notADb, 'this is not a SQLite database, not at all, not even close');
  const cases: Array<[string, string, SqliteSinkOptions<Rec>]> = [
    [path.join(path.dirname(db), 'missing-dir', 'x.db'), 'events', OPTIONS],
    [notADb, 'events', OPTIONS],
    [db, 'nosuchtable', {}],
    [db, 'events', { createTable: DDL, columns: ['n', 'nosuchcolumn'] }],
    [db, 'events', { createTable: DDL, upsertKey: ['n'] }], // no UNIQUE constraint on n
  ];
  for (const [file, table, options] of cases) {
    const w = SqliteSink.forTable<Rec>(file, table, options).createWriter(context());
    const error = await t.throwsAsync(Promise.resolve(w.open?.()));
    t.is((error as TroupeError).code, 'TROUPE_INVALID_ARGUMENT', `${file} ${table}`);
    await w.close?.();
  }
});

test('sqlite sink - a transaction lost from the staging table is TROUPE_CHECKPOINT_CORRUPT, not a silent gap', async (t) => {
  const db = tempDb();
  const w = await opened(db);
  writeAll(w, 1);
  const state = await w.snapshotState!(1);
  await w.close!();
  await query(db, 'DELETE FROM _troupe_pending');
  const restored = SqliteSink.forTable<Rec>(db, 'events', OPTIONS).createWriter(context({ attempt: 1, restoredState: state }));
  const error = await t.throwsAsync(Promise.resolve(restored.open?.()));
  t.is((error as TroupeError).code, 'TROUPE_CHECKPOINT_CORRUPT');
  await restored.close?.();
});

test('sqlite sink - two sinks of one job under one name writing one table are refused; different tables are fine', async (t) => {
  const db = tempDb();
  const a = await opened(db);
  const b = await opened(db);
  writeAll(a, 1);
  writeAll(b, 2);
  await a.snapshotState!(1);
  t.is((await t.throwsAsync<TroupeError>(b.snapshotState!(1)))?.code, 'TROUPE_INVALID_ARGUMENT');
  const c = await opened(db, {}, { createTable: 'CREATE TABLE other (n INTEGER, label TEXT)' }, 'other');
  writeAll(c, 3);
  await c.flush!();
  await a.notifyCheckpointComplete!(1);
  t.deepEqual(await ns(db), [1]);
  t.deepEqual(await query(db, 'SELECT n FROM other'), [{ n: 3 }]);
  for (const w of [a, b, c]) await w.close!();
});

test('sqlite sink - a restored element naming SQL outside identifiers is refused', async (t) => {
  const db = tempDb();
  const w = await opened(db);
  writeAll(w, 1);
  const [element] = (await w.snapshotState!(1)) as Array<{ txn: Record<string, unknown> }>;
  await w.close!();
  const tampered = { ...element, txn: { ...element!.txn, table: 'events; DROP TABLE events' } };
  const restored = SqliteSink.forTable<Rec>(db, 'events', OPTIONS).createWriter(context({ attempt: 1, restoredState: [tampered] }));
  t.is((await t.throwsAsync<TroupeError>(Promise.resolve(restored.open?.())))?.code, 'TROUPE_CHECKPOINT_CORRUPT');
  await restored.close?.();
});

test('sqlite sink - a write lock held by another process is waited out, within busyTimeoutMs', async (t) => {
  const db = tempDb();
  const w = await opened(db);
  const other = new sqlite3.Database(db);
  const exec = (sql: string): Promise<void> => new Promise((resolve, reject) => other.exec(sql, (e: Error | null) => (e === null ? resolve() : reject(e))));
  await exec('BEGIN IMMEDIATE');
  writeAll(w, 1);
  const started = Date.now();
  const snapshot = w.snapshotState!(1);
  setTimeout(() => void exec('COMMIT'), 400);
  await snapshot;
  t.true(Date.now() - started >= 350);
  await w.notifyCheckpointComplete!(1);
  t.deepEqual(await ns(db), [1]);

  const impatient = await opened(db, { subtaskIndex: 1, parallelism: 2 }, { ...OPTIONS, busyTimeoutMs: 100 });
  await exec('BEGIN IMMEDIATE');
  writeAll(impatient, 2);
  t.like(await t.throwsAsync(impatient.snapshotState!(1)), { code: 'TROUPE_SINK_FAILED', causeRecord: { message: 'SQLITE_BUSY: database is locked' } });
  await exec('COMMIT');
  await new Promise((resolve) => other.close(resolve));
  for (const x of [w, impatient]) await x.close!();
});
