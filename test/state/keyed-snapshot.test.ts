/**
 * Keyed state in checkpoint files (state/snapshot/keyed-snapshot.ts), heap backend, in-memory store:
 *  1. a handle's pieces in order (full image, then deltas) restore the state of its last capture
 *  2. a delta's handle extends the previous one; an empty delta writes nothing
 *  3. piece names are unique, valid store segments
 *  4. restore is all or nothing: a bad file is TROUPE_CHECKPOINT_CORRUPT naming it, the backend unchanged
 * and the exchange format: a heap checkpoint restores into sqlite and back.
 * Random operations come from a seeded PRNG; a failure prints its seed.
 */
import test from 'ava';
import { decodeValue, encodeValue } from '../../actors/network/record-codec.js';
import { ManualClock } from '../../core/clock.js';
import { TroupeError } from '../../core/errors.js';
import type { KeyedStateBackend } from '../../state/backend.js';
import { JobCheckpointStorage, MemoryCheckpointStore, SEGMENT, joinPath, type StateFileHandle } from '../../state/checkpoint-storage/index.js';
import { HeapKeyedStateBackend } from '../../state/heap/heap-keyed-state-backend.js';
import { keyGroupFor, keyGroupRange, type KeyGroupRange } from '../../state/key-groups.js';
import { openSqliteKeyedStateBackend } from '../../state/sqlite/sqlite-keyed-state-backend.js';
import { keyedHandleFiles, needsFull, pieceName, restoreKeyedState, writeKeyedSnapshot, type KeyedStateHandle } from '../../state/snapshot/keyed-snapshot.js';
import { seededRng, type Rng } from '../helpers/prng.js';
import { contentOf, FULL, MAX_P } from './backend-fixture.js';

const JOB = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const INCREMENTAL = { incremental: true, materializeEvery: 100 };

interface Setup {
  readonly store: MemoryCheckpointStore;
  readonly storage: JobCheckpointStorage;
}

function setup(): Setup {
  const store = new MemoryCheckpointStore();
  return { store, storage: new JobCheckpointStorage(store, JOB) };
}

function fresh(range: KeyGroupRange = FULL, now = 1_000): { backend: HeapKeyedStateBackend; clock: ManualClock } {
  const clock = new ManualClock(now);
  return { backend: new HeapKeyedStateBackend(MAX_P, range, { clock }), clock };
}

/** A checkpoint of one subtask's keyed state, as the task and the JobMaster take it. */
async function checkpoint(
  { storage }: Setup,
  backend: KeyedStateBackend,
  previous: KeyedStateHandle | null,
  checkpointId: number,
  config = INCREMENTAL,
  subtask = 0,
  pieceBytes?: number,
): Promise<KeyedStateHandle> {
  const capture = backend.capture(needsFull(previous, config));
  const handle = await writeKeyedSnapshot(storage.writer(checkpointId, 0), capture, capture.full ? null : previous, { operatorId: 'op-1', subtask, checkpointId }, pieceBytes === undefined ? {} : { pieceBytes });
  return handle;
}

async function finalize({ storage }: Setup, checkpointId: number, handles: readonly KeyedStateHandle[]): Promise<void> {
  await storage.finalize(checkpointId, 0, { timestamp: checkpointId, files: handles.flatMap(keyedHandleFiles) });
}

const SUM = { createAccumulator: () => ({ sum: 0 }), add: (v: number, acc: { sum: number }) => ({ sum: acc.sum + v }), getResult: (acc: { sum: number }) => acc.sum };

function handles(b: KeyedStateBackend) {
  return {
    v: b.getValueState<unknown>({ name: 'v' }),
    l: b.getListState<unknown>({ name: 'l' }),
    m: b.getMapState<unknown, unknown>({ name: 'm' }),
    a: b.getAggregatingState({ name: 'a', aggregateFunction: SUM }),
    vt: b.getValueState<unknown>({ name: 'vt', ttl: { ttlMs: 200 } }),
    mt: b.getMapState<unknown, unknown>({ name: 'mt', ttl: { ttlMs: 150 } }),
  };
}

const KEYS: unknown[] = [...Array.from({ length: 120 }, (_, i) => i), ...Array.from({ length: 30 }, (_, i) => `user-${i}`), { tenant: 1, id: 2 }, 10n ** 20n];

function keysOf(range: KeyGroupRange): unknown[] {
  return KEYS.filter((k) => keyGroupFor(k, MAX_P) >= range.start && keyGroupFor(k, MAX_P) <= range.end);
}

function randomOps(rng: Rng, b: HeapKeyedStateBackend, clock: ManualClock, count: number): void {
  const keys = keysOf(b.range);
  const h = handles(b);
  for (let i = 0; i < count; i++) {
    b.setCurrentKey(rng.pick(keys));
    switch (rng.int(0, 11)) {
      case 0: h.v.update({ n: rng.int(0, 9) }); break;
      case 1: h.v.clear(); break;
      case 2: h.l.add(rng.int(0, 99)); break;
      case 3: h.l.update(rng.chance(0.3) ? [] : [rng.int(0, 9)]); break;
      case 4: h.m.put(`k${rng.int(0, 4)}`, rng.int(0, 9)); break;
      case 5: h.m.remove(`k${rng.int(0, 4)}`); break;
      case 6: h.a.add(rng.int(0, 9)); break;
      case 7: h.vt.update(rng.int(0, 9)); break;
      case 8: h.mt.put(rng.int(0, 3), 'x'); break;
      case 9: clock.advance(rng.int(0, 60)); break;
      case 10: if (rng.chance(0.2)) b.cleanupExpired(); break;
      default: h.v.update(rng.int(0, 1000)); break;
    }
  }
}

/** What user code reads for every key (TTL reads change state: run on both sides alike). */
function reads(b: HeapKeyedStateBackend, keys: readonly unknown[] = keysOf(b.range)): unknown[] {
  const h = handles(b);
  return keys.map((k) => {
    b.setCurrentKey(k);
    return [k, h.v.value(), h.l.get(), h.m.entries(), h.a.get(), h.vt.value(), h.mt.entries()];
  });
}

async function restored(s: Setup, hs: readonly KeyedStateHandle[], range: KeyGroupRange = FULL, now = 1_000): Promise<{ backend: HeapKeyedStateBackend; clock: ManualClock; groups: number }> {
  const f = fresh(range, now);
  const groups = await restoreKeyedState(s.storage.reader(), hs, f.backend);
  return { ...f, groups };
}

/** A deep copy: contentOf shares stored values with the live state, and TTL reads change them. */
function snapshotOf(rows: unknown[]): unknown[] {
  return decodeValue(encodeValue(rows)) as unknown[];
}

async function rewrite(store: MemoryCheckpointStore, piece: StateFileHandle, change: (bytes: Uint8Array) => Uint8Array): Promise<string> {
  const path = joinPath(JOB, piece.path);
  await store.put(path, change((await store.get(path))!));
  return store.locate(path);
}

test('round trip - a full checkpoint restores identical state (4 seeds)', async (t) => {
  for (const seed of [1, 2, 3, 42]) {
    const s = setup();
    const live = fresh();
    randomOps(seededRng(seed), live.backend, live.clock, 3000);
    const h = await checkpoint(s, live.backend, null, 1);
    await finalize(s, 1, [h]);
    t.deepEqual([h.backend, h.maxParallelism, h.range, h.captures], ['heap', MAX_P, FULL, [1]]);
    t.deepEqual(JSON.parse(JSON.stringify(h)), h, 'plain JSON');
    const copy = await restored(s, [h], FULL, live.clock.now());
    t.is(copy.groups, MAX_P);
    t.deepEqual(contentOf(copy.backend), contentOf(live.backend), `seed ${seed}`);
    t.deepEqual(reads(copy.backend), reads(live.backend), `seed ${seed}`);
  }
});

test('round trip - a full image, then deltas with deletes, restore the state of the last one (4 seeds)', async (t) => {
  for (const seed of [5, 6, 7, 8]) {
    const s = setup();
    const rng = seededRng(seed);
    const live = fresh();
    let h: KeyedStateHandle | null = null;
    let longest = 0;
    for (let n = 1; n <= 6; n++) {
      randomOps(rng, live.backend, live.clock, n === 1 ? 2000 : rng.int(0, 150));
      h = await checkpoint(s, live.backend, h, n);
      await finalize(s, n, [h]);
      longest = Math.max(longest, h.captures.length);
      const copy = await restored(s, [h], FULL, live.clock.now());
      t.deepEqual(contentOf(copy.backend), contentOf(live.backend), `seed ${seed} checkpoint ${n}`);
    }
    t.true(longest > 2, `seed ${seed}: deltas were chained`);
  }
});

test('round trip - deletes: cleared keys, emptied lists and maps stay gone after restore', async (t) => {
  const s = setup();
  const live = fresh();
  const h = handles(live.backend);
  for (const k of KEYS) {
    live.backend.setCurrentKey(k);
    h.v.update(1);
    h.l.add(1);
    h.m.put('a', 1);
  }
  const base = await checkpoint(s, live.backend, null, 1);
  for (const k of KEYS.slice(0, 50)) {
    live.backend.setCurrentKey(k);
    h.v.clear();
    h.l.update([]);
    h.m.remove('a');
  }
  const delta = await checkpoint(s, live.backend, base, 2);
  t.deepEqual(delta.captures, [1, 1]);
  t.deepEqual(delta.pieces.slice(0, 1), base.pieces);
  const copy = await restored(s, [delta]);
  t.deepEqual(copy.backend.sizes(), { v: KEYS.length - 50, l: KEYS.length - 50, m: KEYS.length - 50, a: 0, vt: 0, mt: 0 });
  t.deepEqual(contentOf(copy.backend), contentOf(live.backend));
});

test('round trip - TTL timestamps survive; expired state swept before a delta is gone after restore', async (t) => {
  const s = setup();
  const live = fresh(FULL, 10_000);
  const h = handles(live.backend);
  live.backend.setCurrentKey('old');
  h.vt.update('o');
  h.mt.put(1, 'o');
  live.clock.advance(100);
  live.backend.setCurrentKey('young');
  h.vt.update('y');
  const base = await checkpoint(s, live.backend, null, 1);
  const early = await restored(s, [base], FULL, 10_199);
  early.backend.setCurrentKey('old');
  t.is(handles(early.backend).vt.value(), 'o');
  early.clock.advance(1);
  t.is(handles(early.backend).vt.value(), undefined, 'expires when the original would');
  live.clock.advance(100); // 'old' expired (vt at 10 200, mt at 10 150), 'young' not
  t.is(live.backend.cleanupExpired(), 2);
  const delta = await checkpoint(s, live.backend, base, 2);
  const copy = await restored(s, [delta], FULL, live.clock.now());
  t.deepEqual(copy.backend.sizes(), { v: 0, l: 0, m: 0, a: 0, vt: 1, mt: 0 });
  t.deepEqual(contentOf(copy.backend), contentOf(live.backend));
});

test('round trip - list and map state, with user keys of every kind', async (t) => {
  const s = setup();
  const live = fresh();
  const h = handles(live.backend);
  live.backend.setCurrentKey('k');
  h.l.addAll([1, 'two', { three: [3] }, null, 10n]);
  h.m.putAll([[1, 'a'], ['1', 'b'], [{ o: 1 }, 'c'], [[1, 2], 'd'], [true, new Map([[1, new Set([2])]])]]);
  const base = await checkpoint(s, live.backend, null, 1);
  h.l.add('more');
  h.m.remove('1');
  h.m.put(new Date(5), 'e');
  const delta = await checkpoint(s, live.backend, base, 2);
  const copy = await restored(s, [delta]);
  copy.backend.setCurrentKey('k');
  const c = handles(copy.backend);
  t.deepEqual(c.l.get(), [1, 'two', { three: [3] }, null, 10n, 'more']);
  t.deepEqual(c.m.entries(), [[1, 'a'], [{ o: 1 }, 'c'], [[1, 2], 'd'], [true, new Map([[1, new Set([2])]])], [new Date(5), 'e']]);
});

test('rescale - 1 -> 3: every new subtask restores exactly its key groups, with identical per-key state', async (t) => {
  const s = setup();
  const rng = seededRng(11);
  const live = fresh();
  randomOps(rng, live.backend, live.clock, 3000);
  let h = await checkpoint(s, live.backend, null, 1);
  randomOps(rng, live.backend, live.clock, 300);
  h = await checkpoint(s, live.backend, h, 2);
  const liveContent = snapshotOf(contentOf(live.backend));
  const want = reads(live.backend);
  const got: unknown[] = [];
  for (let i = 0; i < 3; i++) {
    const range = keyGroupRange(MAX_P, 3, i);
    const part = await restored(s, [h], range, live.clock.now());
    t.is(part.groups, range.end - range.start + 1);
    t.deepEqual(contentOf(part.backend), liveContent.filter((row) => ((row as unknown[])[1] as number) >= range.start && ((row as unknown[])[1] as number) <= range.end));
    got.push(...reads(part.backend));
  }
  const byKey = (rows: unknown[]): unknown[] => [...rows].sort((x, y) => KEYS.indexOf((x as unknown[])[0]) - KEYS.indexOf((y as unknown[])[0]));
  t.deepEqual(byKey(got), byKey(want));
});

test('rescale - 3 -> 2: each new subtask uses the overlapping old handles (chains included) and holds the union', async (t) => {
  const s = setup();
  const rng = seededRng(12);
  const olds = [0, 1, 2].map((i) => fresh(keyGroupRange(MAX_P, 3, i)));
  let hs: Array<KeyedStateHandle | null> = [null, null, null];
  for (let n = 1; n <= 3; n++) {
    for (const o of olds) randomOps(rng, o.backend, o.clock, n === 1 ? 1000 : 200);
    hs = await Promise.all(olds.map((o, i) => checkpoint(s, o.backend, hs[i]!, n, INCREMENTAL, i)));
    await finalize(s, n, hs as KeyedStateHandle[]);
  }
  const now = Math.max(...olds.map((o) => o.clock.now()));
  for (const o of olds) o.clock.advance(now - o.clock.now());
  const union = snapshotOf(olds.flatMap((o) => contentOf(o.backend)).sort());
  const want = olds.flatMap((o) => reads(o.backend));
  const news = await Promise.all([0, 1].map((i) => restored(s, hs as KeyedStateHandle[], keyGroupRange(MAX_P, 2, i), now)));
  t.deepEqual(news.map((n) => n.groups), [64, 64]);
  t.deepEqual(news.flatMap((n) => contentOf(n.backend)).sort(), union);
  const byKey = (rows: unknown[]): unknown[] => [...rows].sort((x, y) => KEYS.indexOf((x as unknown[])[0]) - KEYS.indexOf((y as unknown[])[0]));
  t.deepEqual(byKey(news.flatMap((n) => reads(n.backend))), byKey(want));
  // a subtask whose range meets none of the handles restores nothing
  const none = fresh({ start: 0, end: 10 });
  t.is(await restoreKeyedState(s.storage.reader(), [], none.backend), 0);
});

test('chain - a full image every materializeEvery captures; the chain never outgrows it', async (t) => {
  const s = setup();
  const rng = seededRng(13);
  const live = fresh();
  const config = { incremental: true, materializeEvery: 3 };
  let h: KeyedStateHandle | null = null;
  const shapes: number[][] = [];
  for (let n = 1; n <= 8; n++) {
    randomOps(rng, live.backend, live.clock, n === 1 ? 2000 : 20);
    h = await checkpoint(s, live.backend, h, n, config);
    await finalize(s, n, [h]);
    shapes.push([...h.captures]);
  }
  t.deepEqual(shapes, [[1], [1, 1], [1, 1, 1], [1], [1, 1], [1, 1, 1], [1], [1, 1]]);
  t.true(h!.pieces.every((p) => p.checkpointId >= 7), 'the last full image (checkpoint 7) starts the chain');
  const copy = await restored(s, [h!], FULL, live.clock.now());
  t.deepEqual(contentOf(copy.backend), contentOf(live.backend));
  // retained checkpoints keep the pieces they reference; older ones are collected
  await s.storage.retainLatest(1);
  const again = await restored(s, [h!], FULL, live.clock.now());
  t.deepEqual(contentOf(again.backend), contentOf(live.backend));
});

test('needsFull - not incremental, no previous, a full chain, or deltas heavier than the full image', (t) => {
  const piece = (bytes: number): StateFileHandle => ({ path: 'shared/x', scope: 'shared', checkpointId: 1, bytes, sha256: '0'.repeat(64) });
  const h = (captures: number[], bytes: number[]): KeyedStateHandle => ({ backend: 'heap', maxParallelism: MAX_P, range: FULL, pieces: bytes.map(piece), captures });
  t.true(needsFull(null, INCREMENTAL));
  t.true(needsFull(h([1], [100]), { incremental: false, materializeEvery: 10 }));
  t.false(needsFull(h([1], [100]), { incremental: true, materializeEvery: 10 }));
  t.false(needsFull(h([1, 1], [100, 10]), { incremental: true, materializeEvery: 3 }));
  t.true(needsFull(h([1, 1, 1], [100, 10, 10]), { incremental: true, materializeEvery: 3 }));
  t.true(needsFull(h([1], [100]), { incremental: true, materializeEvery: 1 }));
  t.false(needsFull(h([2, 1], [60, 60, 100]), INCREMENTAL), 'the full image is 120 bytes in two files');
  t.true(needsFull(h([2, 1, 1], [60, 60, 100, 30]), INCREMENTAL), '130 bytes of deltas outweigh it');
});

test('incremental - a delta of 1% of the keys is about 1% of the full image', async (t) => {
  const s = setup();
  const { backend } = fresh();
  const counts = backend.getValueState<{ count: number; last: string }>({ name: 'count' });
  const n = 20_000;
  for (let k = 0; k < n; k++) {
    backend.setCurrentKey(k);
    counts.update({ count: k, last: `e${k}` });
  }
  const full = await checkpoint(s, backend, null, 1);
  for (let k = 0; k < n; k += 100) {
    backend.setCurrentKey(k);
    counts.update({ count: k + 1, last: `f${k}` });
  }
  const delta = await checkpoint(s, backend, full, 2);
  const fullBytes = full.pieces[0]!.bytes;
  const deltaBytes = delta.pieces[1]!.bytes;
  const ratio = deltaBytes / fullBytes;
  t.log(`full ${fullBytes} B, delta ${deltaBytes} B, ratio ${ratio.toFixed(4)}`);
  t.true(ratio > 0.005 && ratio < 0.02, `ratio ${ratio}`);
});

test('incremental - a delta with no changes writes nothing and returns the previous handle', async (t) => {
  const s = setup();
  const live = fresh();
  randomOps(seededRng(3), live.backend, live.clock, 100);
  const base = await checkpoint(s, live.backend, null, 1);
  const files = await s.store.list(joinPath(JOB, 'shared'));
  const again = await checkpoint(s, live.backend, base, 2);
  t.is(again, base);
  t.deepEqual(await s.store.list(joinPath(JOB, 'shared')), files);
});

test('pieces - a big capture is split over several files, applied in order, full image first', async (t) => {
  const s = setup();
  const live = fresh();
  const v = live.backend.getValueState<string>({ name: 'v' });
  const l = live.backend.getListState<string>({ name: 'l' });
  for (let k = 0; k < 3000; k++) {
    live.backend.setCurrentKey(k);
    v.update(`value-${k}-${'x'.repeat(20)}`);
  }
  live.backend.setCurrentKey('huge');
  l.update(Array.from({ length: 2000 }, (_, i) => `element-${i}`));
  const base = await checkpoint(s, live.backend, null, 1, INCREMENTAL, 0, 8 * 1024);
  t.true(base.captures[0]! > 5, `${base.captures[0]} files`);
  t.is(base.pieces.length, base.captures[0]!);
  for (let k = 0; k < 3000; k += 3) {
    live.backend.setCurrentKey(k);
    if (k % 2 === 0) v.clear();
    else v.update('changed');
  }
  const delta = await checkpoint(s, live.backend, base, 2, INCREMENTAL, 0, 8 * 1024);
  t.true(delta.captures.length === 2 && delta.captures[1]! > 1, `delta files ${delta.captures.join(',')}`);
  const names = delta.pieces.map((p) => p.path);
  t.is(new Set(names).size, names.length);
  const copy = await restored(s, [delta]);
  t.deepEqual(contentOf(copy.backend), contentOf(live.backend));
});

test('names - piece files are unique valid segments, even for odd operator ids', (t) => {
  const names = new Set<string>();
  for (const operatorId of ['op-1', 'Map -> Filter', 'a/b', '', 'ü'.repeat(300), 'x'.repeat(81)]) {
    for (const subtask of [0, 12]) {
      for (const [epoch, checkpointId, piece] of [[0, 1, 0], [0, 1, 1], [1, 1, 0], [0, 12, 0]] as const) {
        const name = pieceName({ operatorId, subtask, checkpointId }, epoch, piece);
        t.regex(name, SEGMENT);
        t.false(name.startsWith('_'));
        names.add(name);
      }
    }
  }
  t.is(names.size, 6 * 2 * 4);
});

test('corruption - a bit flipped in any piece fails the restore naming the file; the backend is unchanged', async (t) => {
  const s = setup();
  const live = fresh();
  randomOps(seededRng(21), live.backend, live.clock, 1000);
  let h = await checkpoint(s, live.backend, null, 1);
  randomOps(seededRng(22), live.backend, live.clock, 100);
  h = await checkpoint(s, live.backend, h, 2);
  t.is(h.pieces.length, 2);
  for (const [i, piece] of h.pieces.entries()) {
    const target = fresh();
    randomOps(seededRng(23), target.backend, target.clock, 200);
    const before = contentOf(target.backend);
    let original: Uint8Array | undefined;
    const file = await rewrite(s.store, piece, (bytes) => {
      original = Uint8Array.from(bytes);
      const flipped = Uint8Array.from(bytes);
      flipped[Math.floor(bytes.length / 2)]! ^= 0x10;
      return flipped;
    });
    const error = await t.throwsAsync(restoreKeyedState(s.storage.reader(), [h], target.backend), { instanceOf: TroupeError });
    t.is(error?.code, 'TROUPE_CHECKPOINT_CORRUPT');
    t.is((error?.details as { file?: string } | undefined)?.file, file, `piece ${i}`);
    t.true(error?.message.includes(file));
    t.deepEqual(contentOf(target.backend), before, `piece ${i}: nothing applied`);
    await rewrite(s.store, piece, () => original!);
  }
  t.is((await restored(s, [h])).groups, MAX_P);
});

test('corruption - a truncated or missing piece fails the restore naming the file; the backend is unchanged', async (t) => {
  const s = setup();
  const live = fresh();
  randomOps(seededRng(31), live.backend, live.clock, 500);
  let h = await checkpoint(s, live.backend, null, 1);
  randomOps(seededRng(32), live.backend, live.clock, 50);
  h = await checkpoint(s, live.backend, h, 2);
  const last = h.pieces.at(-1)!;
  const target = fresh();
  randomOps(seededRng(33), target.backend, target.clock, 200);
  const before = contentOf(target.backend);
  const file = await rewrite(s.store, last, (bytes) => bytes.subarray(0, bytes.length - 7));
  const truncated = await t.throwsAsync(restoreKeyedState(s.storage.reader(), [h], target.backend), { instanceOf: TroupeError });
  t.deepEqual([truncated?.code, (truncated?.details as Record<string, unknown>).reason, (truncated?.details as Record<string, unknown>).file], ['TROUPE_CHECKPOINT_CORRUPT', 'truncated', file]);
  await s.store.remove(joinPath(JOB, last.path));
  const missing = await t.throwsAsync(restoreKeyedState(s.storage.reader(), [h], target.backend), { instanceOf: TroupeError });
  t.deepEqual([missing?.code, (missing?.details as Record<string, unknown>).reason, (missing?.details as Record<string, unknown>).file], ['TROUPE_CHECKPOINT_CORRUPT', 'missing', file]);
  t.deepEqual(contentOf(target.backend), before);
});

test('restore - handles of another max parallelism, or malformed, are TROUPE_INVALID_ARGUMENT', async (t) => {
  const s = setup();
  const live = fresh();
  randomOps(seededRng(41), live.backend, live.clock, 100);
  const h = await checkpoint(s, live.backend, null, 1);
  const other = new HeapKeyedStateBackend(256, { start: 0, end: 255 });
  await t.throwsAsync(restoreKeyedState(s.storage.reader(), [h], other), { code: 'TROUPE_INVALID_ARGUMENT', message: /max parallelism 128/ } as never);
  await t.throwsAsync(restoreKeyedState(s.storage.reader(), [{ ...h, captures: [2] }], fresh().backend), { code: 'TROUPE_INVALID_ARGUMENT' } as never);
  await t.throwsAsync(restoreKeyedState(s.storage.reader(), [{ ...h, range: { start: 0, end: 500 } }], fresh().backend), { code: 'TROUPE_INVALID_ARGUMENT' } as never);
});

test('restore - a piece whose content disagrees with its handle is TROUPE_CHECKPOINT_CORRUPT naming it', async (t) => {
  const s = setup();
  const live = fresh();
  randomOps(seededRng(51), live.backend, live.clock, 100);
  const base = await checkpoint(s, live.backend, null, 1);
  randomOps(seededRng(52), live.backend, live.clock, 20);
  const delta = await checkpoint(s, live.backend, base, 2);
  // the delta's file where the full image belongs
  const swapped: KeyedStateHandle = { ...delta, pieces: [delta.pieces[1]!, delta.pieces[0]!] };
  const error = await t.throwsAsync(restoreKeyedState(s.storage.reader(), [swapped], fresh().backend), { instanceOf: TroupeError });
  t.deepEqual([error?.code, (error?.details as Record<string, unknown>).reason], ['TROUPE_CHECKPOINT_CORRUPT', 'bad-body']);
  t.true(error?.message.includes(s.store.locate(joinPath(JOB, delta.pieces[1]!.path))));
  // a handle claiming another range than its files
  const narrowed: KeyedStateHandle = { ...base, range: { start: 0, end: 63 } };
  await t.throwsAsync(restoreKeyedState(s.storage.reader(), [narrowed], fresh().backend), { code: 'TROUPE_CHECKPOINT_CORRUPT' } as never);
});

test('isolation - what changes between capture and upload, in place or not, is not in the checkpoint', async (t) => {
  const s = setup();
  const { backend } = fresh();
  const acc = backend.getAggregatingState<number, { sum: number }, number>({
    name: 'acc',
    aggregateFunction: {
      createAccumulator: () => ({ sum: 0 }),
      add: (v, a) => {
        a.sum += v; // in place
        return a;
      },
      getResult: (a) => a.sum,
    },
  });
  const v = backend.getValueState<{ n: number }>({ name: 'v' });
  for (let k = 0; k < 100; k++) {
    backend.setCurrentKey(k);
    acc.add(k);
    v.update({ n: k });
  }
  const expected = decodeValue(encodeValue(contentOf(backend)));
  const capture = backend.capture(true);
  for (let k = 0; k < 100; k++) {
    backend.setCurrentKey(k);
    acc.add(1000);
    v.value()!.n = -1;
    if (k % 3 === 0) v.clear();
  }
  backend.setCurrentKey('late');
  v.update({ n: 7 });
  const h = await writeKeyedSnapshot(s.storage.writer(1, 0), capture, null, { operatorId: 'op', subtask: 0, checkpointId: 1 });
  const copy = await restored(s, [h]);
  t.deepEqual(contentOf(copy.backend), expected);
  // and the live state went on as the user code wrote it
  backend.setCurrentKey(4);
  t.deepEqual([acc.get(), v.value()], [1004, { n: -1 }]);
});

test('write - an incremental capture without a previous handle, or of another range, is refused', async (t) => {
  const s = setup();
  const { backend } = fresh();
  backend.setCurrentKey(1);
  backend.getValueState<number>({ name: 'v' }).update(1);
  const base = await checkpoint(s, backend, null, 1);
  backend.getValueState<number>({ name: 'v' }).update(2);
  await t.throwsAsync(writeKeyedSnapshot(s.storage.writer(2, 0), backend.capture(false), null, { operatorId: 'op', subtask: 0, checkpointId: 2 }), { code: 'TROUPE_INVALID_ARGUMENT' } as never);
  backend.getValueState<number>({ name: 'v' }).update(3);
  const elsewhere: KeyedStateHandle = { ...base, range: { start: 0, end: 63 } };
  await t.throwsAsync(writeKeyedSnapshot(s.storage.writer(2, 0), backend.capture(false), elsewhere, { operatorId: 'op', subtask: 0, checkpointId: 2 }), { code: 'TROUPE_INVALID_ARGUMENT' } as never);
});

test('write - a first incremental capture of a heap backend is a full image (no baseline yet)', async (t) => {
  const s = setup();
  const live = fresh();
  randomOps(seededRng(61), live.backend, live.clock, 300);
  const capture = live.backend.capture(false);
  t.true(capture.full);
  const h = await writeKeyedSnapshot(s.storage.writer(1, 0), capture, null, { operatorId: 'op', subtask: 0, checkpointId: 1 });
  t.deepEqual(h.captures, [1]);
  t.deepEqual(contentOf((await restored(s, [h])).backend), contentOf(live.backend));
});

test('backends - a heap checkpoint restores into sqlite at parallelism 2, whose checkpoints restore into heap again', async (t) => {
  const s = setup();
  const live = fresh();
  const rng = seededRng(71);
  randomOps(rng, live.backend, live.clock, 1500);
  let h = await checkpoint(s, live.backend, null, 1);
  randomOps(rng, live.backend, live.clock, 200);
  h = await checkpoint(s, live.backend, h, 2);
  await finalize(s, 2, [h]);
  const sqlites = await Promise.all([0, 1].map((i) => openSqliteKeyedStateBackend({ maxParallelism: MAX_P, range: keyGroupRange(MAX_P, 2, i), clock: new ManualClock(live.clock.now()), cacheEntries: 20 })));
  try {
    const handles3: KeyedStateHandle[] = [];
    for (const [i, sq] of sqlites.entries()) {
      t.is(await restoreKeyedState(s.storage.reader(), [h], sq), 64);
      handles3.push(await checkpoint(s, sq, null, 3, INCREMENTAL, i));
    }
    await finalize(s, 3, handles3);
    t.deepEqual(handles3.map((x) => x.backend), ['sqlite', 'sqlite']);
    const back = await restored(s, handles3, FULL, live.clock.now());
    t.is(back.groups, MAX_P);
    t.deepEqual(contentOf(back.backend), contentOf(live.backend));
  } finally {
    for (const sq of sqlites) await sq.dispose();
  }
});
