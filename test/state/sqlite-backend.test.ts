/**
 * The sqlite keyed state backend (state/sqlite/sqlite-keyed-state-backend.ts) on its own: files,
 * refused input, the not-prefetched guard (invariant 2), TTL through the store, store failures.
 */
import test from 'ava';
import { mkdtemp, readdir, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ManualClock } from '../../core/clock.js';
import type { TroupeError } from '../../core/errors.js';
import type { KeyedStateCapture, KeyedStateChanges } from '../../state/backend.js';
import { keyGroupFor, keyGroupRange, type KeyGroupRange } from '../../state/key-groups.js';
import { openSqliteKeyedStateBackend, type SqliteKeyedStateBackend, type SqliteKeyedStateBackendOptions } from '../../state/sqlite/sqlite-keyed-state-backend.js';

const MAX_P = 128;
const FULL: KeyGroupRange = { start: 0, end: MAX_P - 1 };

async function scratch(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'troupe-sqlite-test-'));
}

function open(options: Partial<SqliteKeyedStateBackendOptions> = {}): Promise<SqliteKeyedStateBackend> {
  return openSqliteKeyedStateBackend({ maxParallelism: MAX_P, range: FULL, ...options });
}

async function use(b: SqliteKeyedStateBackend, key: unknown): Promise<void> {
  const pending = b.prefetch([key]);
  if (pending !== undefined) await pending;
  b.setCurrentKey(key);
}

async function materialized(capture: KeyedStateCapture): Promise<KeyedStateChanges> {
  try {
    return await capture.materialize();
  } finally {
    capture.release();
  }
}

const codeOf = (e: unknown): unknown => (e as TroupeError | undefined)?.code;

test('sqlite backend - one database file per subtask in the directory given; dispose deletes its files and keeps the directory', async (t) => {
  const dir = await scratch();
  try {
    const b = await open({ dir, name: 'job-1-op-2' });
    t.is(b.kind, 'sqlite');
    t.is(b.path, join(dir, 'job-1-op-2.sqlite'));
    const v = b.getValueState<number>({ name: 'v' });
    for (let k = 0; k < 50; k++) {
      await use(b, k);
      v.update(k);
    }
    await materialized(b.capture(true));
    t.true((await readdir(dir)).includes('job-1-op-2.sqlite'));
    await b.dispose();
    t.deepEqual(await readdir(dir), []);
    await t.notThrowsAsync(b.dispose());
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('sqlite backend - without a directory it makes its own under the temp dir and removes it on dispose', async (t) => {
  const b = await open();
  const own = dirname(b.path);
  t.true(own.startsWith(tmpdir()));
  t.true((await stat(b.path)).isFile());
  await b.dispose();
  await t.throwsAsync(stat(own), { code: 'ENOENT' } as never);
});

test('sqlite backend - the name cannot leave the directory: other characters become _', async (t) => {
  const dir = await scratch();
  try {
    const b = await open({ dir, name: '../job/1:op 2' });
    t.is(b.path, join(dir, '.._job_1_op_2.sqlite'));
    await b.dispose();
    await t.throwsAsync(open({ dir, name: '..' }), { code: 'TROUPE_INVALID_ARGUMENT' } as never);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('sqlite backend - a stale file of the same name (a crashed earlier attempt) is replaced by an empty database', async (t) => {
  const dir = await scratch();
  try {
    await writeFile(join(dir, 'sub.sqlite'), 'not a database at all');
    await writeFile(join(dir, 'sub.sqlite-wal'), 'junk');
    const b = await open({ dir, name: 'sub' });
    const v = b.getValueState<number>({ name: 'v' });
    await use(b, 1);
    t.is(v.value(), undefined);
    t.deepEqual((await materialized(b.capture(true))).keyGroups, []);
    await b.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('sqlite backend - a database that cannot be created is refused with TROUPE_INVALID_ARGUMENT naming the path', async (t) => {
  const dir = await scratch();
  try {
    const missing = join(dir, 'no', 'such', 'dir');
    const e1 = await t.throwsAsync(open({ dir: missing, name: 'x' }));
    t.is(codeOf(e1), 'TROUPE_INVALID_ARGUMENT');
    t.true(e1?.message.includes(missing));
    await writeFile(join(dir, 'a-file'), '');
    t.is(codeOf(await t.throwsAsync(open({ dir: join(dir, 'a-file'), name: 'x' }))), 'TROUPE_INVALID_ARGUMENT');
    await mkdir(join(dir, 'taken.sqlite'));
    const e3 = await t.throwsAsync(open({ dir, name: 'taken' }));
    t.is(codeOf(e3), 'TROUPE_INVALID_ARGUMENT');
    t.regex(e3?.message ?? '', /is a directory/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('sqlite backend - invalid options are refused with TROUPE_INVALID_ARGUMENT', async (t) => {
  for (const options of [{ cacheEntries: 0 }, { cacheEntries: 2.5 }, { range: { start: 5, end: 200 } }, { range: { start: 9, end: 3 } }, { maxParallelism: 0 }, { maxParallelism: 40_000, range: { start: 0, end: 1 } }]) {
    t.is(codeOf(await t.throwsAsync(open(options as Partial<SqliteKeyedStateBackendOptions>))), 'TROUPE_INVALID_ARGUMENT', JSON.stringify(options));
  }
});

test('sqlite backend - keys need no prefetch while nothing was ever stored; afterwards state of a key not prefetched throws TROUPE_PROTOCOL_VIOLATION in every handle', async (t) => {
  const b = await open({ cacheEntries: 2 });
  try {
    const v = b.getValueState<string>({ name: 'v' });
    const l = b.getListState<number>({ name: 'l' });
    const m = b.getMapState<string, number>({ name: 'm' });
    const r = b.getReducingState<number>({ name: 'r', reduceFunction: (a, x) => a + x });
    const a = b.getAggregatingState<number, number, number>({ name: 'a', aggregateFunction: { createAccumulator: () => 0, add: (x, acc) => acc + x, getResult: (acc) => acc } });
    for (let k = 0; k < 10; k++) {
      b.setCurrentKey(k);
      v.update(`v${k}`);
    }
    t.is(b.stats().resident, 10);
    // keys set without prefetch count as prefetched by the current call: two prefetches later they go
    await use(b, 100);
    await use(b, 101);
    t.true(b.stats().resident <= 4, `${b.stats().resident} resident`);
    b.setCurrentKey(0); // setting the key is fine; using its state is not
    t.is(b.getCurrentKey(), 0);
    const uses: Array<[string, () => unknown]> = [
      ['value', () => v.value()],
      ['update', () => v.update('x')],
      ['clear', () => v.clear()],
      ['list get', () => l.get()],
      ['list add', () => l.add(1)],
      ['map get', () => m.get('k')],
      ['map put', () => m.put('k', 1)],
      ['map entries', () => m.entries()],
      ['reducing', () => r.add(1)],
      ['aggregating', () => a.get()],
    ];
    for (const [what, f] of uses) {
      const e = t.throws(f, undefined, what);
      t.is(codeOf(e), 'TROUPE_PROTOCOL_VIOLATION', what);
      t.regex(e?.message ?? '', /key 0 was not prefetched/, what);
    }
    await use(b, 0);
    t.is(v.value(), 'v0');
    // keys never stored are known absent only after a load
    b.setCurrentKey(12345);
    t.throws(() => v.value(), { code: 'TROUPE_PROTOCOL_VIOLATION' } as never);
  } finally {
    await b.dispose();
  }
});

test('sqlite backend - a key outside the range is refused by setCurrentKey and prefetch; a refused prefetch admits nothing', async (t) => {
  const range = keyGroupRange(MAX_P, 2, 0);
  const b = await open({ range });
  try {
    let outside = 0;
    while (keyGroupFor(outside, MAX_P) <= range.end) outside++;
    t.throws(() => b.setCurrentKey(outside), { code: 'TROUPE_PROTOCOL_VIOLATION' } as never);
    t.throws(() => b.prefetch([0, 1, outside]), { code: 'TROUPE_PROTOCOL_VIOLATION' } as never);
    t.throws(() => b.prefetch([0, () => 1]), { code: 'TROUPE_KEY_NOT_SERIALIZABLE' } as never);
    t.is(b.stats().resident, 0);
  } finally {
    await b.dispose();
  }
});

test('sqlite backend - prefetch: a promise while a stored key loads (also to a second prefetch of it), undefined once resident', async (t) => {
  const b = await open({ cacheEntries: 1 });
  try {
    const v = b.getValueState<number>({ name: 'v' });
    for (const k of [1, 2, 3]) {
      await use(b, k);
      v.update(k * 10);
    }
    await use(b, 4);
    await b.settled();
    const first = b.prefetch([1]);
    t.truthy(first);
    const second = b.prefetch([1]);
    t.truthy(second, 'the load queued by the first prefetch is waited for');
    await second;
    b.setCurrentKey(1);
    t.is(v.value(), 10);
    await first;
    t.is(b.prefetch([1]), undefined);
  } finally {
    await b.dispose();
  }
});

test('sqlite backend - after dispose every use throws TROUPE_PROTOCOL_VIOLATION', async (t) => {
  const b = await open();
  const v = b.getValueState<number>({ name: 'v' });
  await use(b, 1);
  v.update(1);
  await b.dispose();
  t.throws(() => b.setCurrentKey(1), { code: 'TROUPE_PROTOCOL_VIOLATION' } as never);
  t.throws(() => b.prefetch([1]), { code: 'TROUPE_PROTOCOL_VIOLATION' } as never);
  t.throws(() => b.capture(true), { code: 'TROUPE_PROTOCOL_VIOLATION' } as never);
  t.throws(() => v.value(), { code: 'TROUPE_PROTOCOL_VIOLATION' } as never);
  await t.throwsAsync(b.restore({ format: 'troupe-keyed-changes/1', maxParallelism: MAX_P, range: FULL, full: true, states: [], keyGroups: [] }), { code: 'TROUPE_PROTOCOL_VIOLATION' } as never);
});

test('sqlite backend - a value the codec cannot carry fails the write-back with its code, naming the state, and loses nothing', async (t) => {
  class Point {
    constructor(readonly x: number) {}
  }
  const b = await open();
  try {
    const v = b.getValueState<unknown>({ name: 'points' });
    await use(b, 1);
    v.update({ ok: 1 });
    await use(b, 2);
    v.update(new Point(1));
    const e = t.throws(() => b.capture(true));
    t.is(codeOf(e), 'TROUPE_RECORD_NOT_SERIALIZABLE');
    t.regex(e?.message ?? '', /keyed state 'points'/);
    v.update({ x: 1 });
    const image = await materialized(b.capture(true));
    t.deepEqual(
      image.keyGroups.flatMap((g) => g.states.flatMap((s) => s.upserts.map(([, x]) => x))).sort((p, q) => JSON.stringify(p).localeCompare(JSON.stringify(q))),
      [{ ok: 1 }, { x: 1 }],
    );
  } finally {
    await b.dispose();
  }
});

test('sqlite backend - a failing store fails the backend: settled() rejects with TROUPE_TASK_FAILED, later calls throw it', async (t) => {
  const b = await open({ cacheEntries: 1 });
  const v = b.getValueState<number>({ name: 'v' });
  await use(b, 1);
  v.update(1);
  // break the writer connection under the backend
  const db = (b as unknown as { store: { db: { close(cb: (e: Error | null) => void): void } } }).store.db;
  await new Promise<void>((resolve) => db.close(() => resolve()));
  await use(b, 2);
  v.update(2);
  // evicts key 1: its write-back fails, later
  const loading = b.prefetch([3]);
  loading?.catch(() => undefined);
  t.is(codeOf(await t.throwsAsync(b.settled())), 'TROUPE_TASK_FAILED');
  t.is(codeOf(t.throws(() => b.prefetch([1]))), 'TROUPE_TASK_FAILED');
  t.throws(() => b.setCurrentKey(3), { code: 'TROUPE_TASK_FAILED' } as never);
  t.throws(() => b.capture(false), { code: 'TROUPE_TASK_FAILED' } as never);
  await t.notThrowsAsync(b.dispose());
});

test('sqlite backend - TTL through the store: cleanupExpired removes resident values at once, stored ones by the sweep and keys loading meanwhile as they load', async (t) => {
  const clock = new ManualClock(1_000);
  const b = await open({ clock, cacheEntries: 5 });
  try {
    const ttl = { ttlMs: 100, visibility: 'return-expired-if-not-cleaned-up' } as const;
    const vt = b.getValueState<number>({ name: 'vt', ttl });
    const lt = b.getListState<number>({ name: 'lt', ttl });
    t.true(b.hasTtlState());
    for (let k = 0; k < 40; k++) {
      await use(b, k);
      vt.update(k);
      lt.add(k);
      if (k === 19) clock.advance(50); // keys 0-19 written at 1000, 20-39 at 1050
    }
    await use(b, 0); // loads key 0 (evicted long ago)
    const loading = b.prefetch([1]); // key 1 loads while the sweep is decided
    t.truthy(loading);
    clock.advance(60); // 0-19 expired, 20-39 alive
    const residentExpired = b.cleanupExpired();
    t.true(residentExpired >= 2, `key 0's value and element at least (${residentExpired})`);
    await loading;
    b.setCurrentKey(1);
    t.is(vt.value(), undefined, 'cleaned as it loaded: not even returned once');
    t.deepEqual(lt.get(), []);
    await b.settled();
    const image = await materialized(b.capture(true));
    const keys = image.keyGroups.flatMap((g) => g.states.flatMap((s) => s.upserts.map(([k]) => `${s.name}:${String(k)}`))).sort();
    t.deepEqual(keys, Array.from({ length: 20 }, (_, i) => [`lt:${i + 20}`, `vt:${i + 20}`]).flat().sort());
  } finally {
    await b.dispose();
  }
});

test('sqlite backend - an incremental capture after more evicted changes than it may track is full; the next one is a delta again', async (t) => {
  const b = await open({ cacheEntries: 10 });
  try {
    const v = b.getValueState<number>({ name: 'v' });
    await materialized(b.capture(true));
    for (let k = 0; k < 100; k++) {
      await use(b, k);
      v.update(k);
    }
    const upgraded = b.capture(false);
    t.true(upgraded.full);
    const image = await materialized(upgraded);
    t.is(image.keyGroups.reduce((n, g) => n + g.states.reduce((m, s) => m + s.upserts.length, 0), 0), 100);
    await use(b, 5);
    v.update(55);
    const delta = await materialized(b.capture(false));
    t.false(delta.full);
    t.deepEqual(
      delta.keyGroups.flatMap((g) => g.states.flatMap((s) => s.upserts)),
      [[5, 55]],
    );
  } finally {
    await b.dispose();
  }
});

test('sqlite backend - a capture released while it materializes rejects instead of answering from a view it no longer holds', async (t) => {
  const b = await open({ cacheEntries: 10 });
  try {
    const v = b.getValueState<number>({ name: 'v' });
    for (let k = 0; k < 300; k++) {
      await use(b, k);
      v.update(k);
    }
    const capture = b.capture(true);
    const pending = capture.materialize();
    capture.release();
    t.is(codeOf(await t.throwsAsync(pending)), 'TROUPE_PROTOCOL_VIOLATION');
    t.is(codeOf(await t.throwsAsync(capture.materialize())), 'TROUPE_PROTOCOL_VIOLATION');
    const image = await materialized(b.capture(true));
    t.is(image.keyGroups.reduce((n, g) => n + g.states.reduce((m, s) => m + s.upserts.length, 0), 0), 300);
  } finally {
    await b.dispose();
  }
});
