/**
 * The checkpoint directory (state/checkpoint-storage/). One contract suite runs against the
 * file-system store and the in-memory store; pure parts (file envelope, shared-state registry)
 * and file-system specifics are tested apart. Invariants cited:
 *  - store contract 1-5 (checkpoint-store.ts)
 *  - file format 1-3 (file-format.ts)
 *  - writer 1-3 (checkpoint-writer.ts)
 *  - registry 1-3 (shared-state-registry.ts)
 *  - storage 1-7 (job-checkpoint-storage.ts)
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { Buffer } from 'node:buffer';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { encodeValue } from '../../actors/network/record-codec.js';
import { TroupeError, type ErrorCode } from '../../core/errors.js';
import {
  FsCheckpointStore,
  JobCheckpointStorage,
  MemoryCheckpointStore,
  SharedStateRegistry,
  checkpointReader,
  decodeFile,
  decodeMetadata,
  encodeFile,
  openSavepoint,
  discardSavepoint,
  savepointDirName,
  type CheckpointStore,
  type PutOptions,
  type StateFileHandle,
} from '../../state/checkpoint-storage/index.js';
import { seededRng } from '../helpers/prng.js';

const JOB = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const OTHER_JOB = 'ffeeddccbbaa99887766554433221100';

interface Harness {
  readonly store: CheckpointStore;
  /** The same directory as seen by another process or host. */
  reopen(): CheckpointStore;
  cleanup(): Promise<void>;
}

const implementations: Record<'fs' | 'memory', () => Promise<Harness>> = {
  fs: async () => {
    const root = await fs.mkdtemp(nodePath.join(tmpdir(), 'troupe-chk-'));
    return { store: new FsCheckpointStore(root), reopen: () => new FsCheckpointStore(root), cleanup: () => fs.rm(root, { recursive: true, force: true }) };
  },
  memory: async () => {
    const store = new MemoryCheckpointStore();
    return { store, reopen: () => store, cleanup: async () => undefined };
  },
};

async function rejects(t: ExecutionContext, promise: Promise<unknown>, code: ErrorCode, reason?: string, file?: string): Promise<TroupeError | undefined> {
  const error = await t.throwsAsync(promise, { instanceOf: TroupeError });
  t.is(error?.code, code, error?.message);
  if (reason !== undefined) t.is(error?.details?.reason, reason, error?.message);
  if (file !== undefined) {
    t.true(error?.message.includes(file), `message names ${file}: ${error?.message}`);
    t.is(error?.details?.file, file);
  }
  return error;
}

async function flipBit(store: CheckpointStore, path: string, byte: number, bit: number): Promise<Uint8Array> {
  const original = (await store.get(path))!;
  const bytes = Buffer.from(original);
  bytes[byte] = bytes[byte]! ^ (1 << bit);
  await store.put(path, bytes);
  return original;
}

async function copyTree(store: CheckpointStore, from: string, to: string): Promise<void> {
  for (const entry of await store.list(from)) {
    if (entry.endsWith('/')) await copyTree(store, `${from}/${entry.slice(0, -1)}`, `${to}/${entry.slice(0, -1)}`);
    else await store.put(`${to}/${entry}`, (await store.get(`${from}/${entry}`))!);
  }
}

async function allFiles(store: CheckpointStore, dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await store.list(dir)) {
    const path = dir === '' ? entry : `${dir}/${entry}`;
    if (entry.endsWith('/')) out.push(...(await allFiles(store, path.slice(0, -1))));
    else out.push(path);
  }
  return out;
}

/** Delegates to a store and runs a hook after each put (to interleave a concurrent actor). */
class HookStore implements CheckpointStore {
  afterPut: ((path: string) => Promise<void>) | null = null;
  constructor(private readonly inner: CheckpointStore) {}
  locate(path: string): string {
    return this.inner.locate(path);
  }
  async put(path: string, bytes: Uint8Array, options?: PutOptions): Promise<boolean> {
    const result = await this.inner.put(path, bytes, options);
    const hook = this.afterPut;
    this.afterPut = null;
    if (hook !== null) await hook(path);
    return result;
  }
  get(path: string): Promise<Uint8Array | undefined> {
    return this.inner.get(path);
  }
  size(path: string): Promise<number | undefined> {
    return this.inner.size(path);
  }
  list(dir: string): Promise<string[]> {
    return this.inner.list(dir);
  }
  remove(path: string): Promise<boolean> {
    return this.inner.remove(path);
  }
  removeTree(dir: string): Promise<void> {
    return this.inner.removeTree(dir);
  }
}

/** Writes one exclusive value and finalizes checkpoint n; returns its handles. */
async function completeCheckpoint(storage: JobCheckpointStorage, n: number, shared: readonly StateFileHandle[] = [], epoch = 0): Promise<StateFileHandle[]> {
  const w = storage.writer(n, epoch);
  const files = [await w.writeValue('op-0', { checkpoint: n }), ...shared];
  await storage.finalize(n, epoch, { timestamp: 1000 + n, files, state: { operators: { op: [0] } } });
  return files;
}

function contract(kind: 'fs' | 'memory'): void {
  const it = (title: string, fn: (t: ExecutionContext, h: Harness) => Promise<void>): void => {
    test(`checkpoint storage (${kind}) - ${title}`, async (t) => {
      const h = await implementations[kind]();
      t.teardown(() => h.cleanup());
      await fn(t, h);
    });
  };

  // ---- the narrow store (contract 1-5) ----

  it('put then get returns the bytes, a missing file is undefined, size is the byte length (contract 3)', async (t, { store }) => {
    t.true(await store.put('j/chk-1/a', Buffer.from('hello')));
    t.deepEqual(Buffer.from((await store.get('j/chk-1/a'))!), Buffer.from('hello'));
    t.is(await store.get('j/chk-1/b'), undefined);
    t.is(await store.size('j/chk-1/a'), 5);
    t.is(await store.size('j/chk-1/b'), undefined);
    t.is(await store.size('j/chk-1'), undefined);
    t.is(await store.get('j/chk-1'), undefined);
    t.is(await store.get('j/chk-1/a/below'), undefined);
  });

  it('stored bytes are copies in both directions (contract 3)', async (t, { store }) => {
    const input = Buffer.from('abc');
    await store.put('x', input);
    input[0] = 0x7a;
    const out = (await store.get('x'))!;
    out[1] = 0x7a;
    t.is(Buffer.from((await store.get('x'))!).toString(), 'abc');
  });

  it('put replaces, an exclusive put leaves an existing file alone and resolves false (contract 2)', async (t, { store }) => {
    await store.put('x', Buffer.from('one'));
    t.true(await store.put('x', Buffer.from('two')));
    t.false(await store.put('x', Buffer.from('three'), { exclusive: true }));
    t.is(Buffer.from((await store.get('x'))!).toString(), 'two');
    t.true(await store.put('y', Buffer.from('new'), { exclusive: true }));
  });

  it('of concurrent exclusive puts exactly one wins; concurrent puts leave one whole file (contract 2)', async (t, { store }) => {
    const bodies = Array.from({ length: 16 }, (_, i) => Buffer.alloc(4096 + i, i + 1));
    const results = await Promise.all(bodies.map((b) => store.put('race/excl', b, { exclusive: true })));
    t.is(results.filter(Boolean).length, 1);
    t.deepEqual(Buffer.from((await store.get('race/excl'))!), bodies[results.indexOf(true)]);
    await Promise.all(bodies.map((b) => store.put('race/replace', b)));
    const final = Buffer.from((await store.get('race/replace'))!);
    t.true(bodies.some((b) => b.equals(final)));
    t.deepEqual(await store.list('race'), ['excl', 'replace']);
  });

  it('list names direct children, sorted, directories with a trailing slash (contract 4)', async (t, { store }) => {
    await store.put('j/chk-2/_metadata', Buffer.from('m'));
    await store.put('j/chk-10/a', Buffer.from('a'));
    await store.put('j/shared/s', Buffer.from('s'));
    await store.put('j/_epoch', Buffer.from('e'));
    t.deepEqual(await store.list('j'), ['_epoch', 'chk-10/', 'chk-2/', 'shared/']);
    t.deepEqual(await store.list(''), ['j/']);
    t.deepEqual(await store.list('j/chk-2'), ['_metadata']);
    t.deepEqual(await store.list('nothing/here'), []);
  });

  it('remove reports whether a file was there; removeTree takes chk-1 and leaves chk-10 (contract 5)', async (t, { store }) => {
    await store.put('j/chk-1/a', Buffer.from('a'));
    await store.put('j/chk-1/sub/b', Buffer.from('b'));
    await store.put('j/chk-10/a', Buffer.from('c'));
    await store.put('j/chk-1a', Buffer.from('d'));
    t.true(await store.remove('j/chk-1/a'));
    t.false(await store.remove('j/chk-1/a'));
    await store.removeTree('j/chk-1');
    await store.removeTree('j/never-there');
    t.is(await store.get('j/chk-1/sub/b'), undefined);
    t.deepEqual(await allFiles(store, ''), ['j/chk-10/a', 'j/chk-1a']);
  });

  it('paths that are not relative segment lists are invalid arguments (contract 1)', async (t, { store }) => {
    for (const bad of ['', '/abs', 'a//b', '../x', 'a/../b', 'a/./b', '.hidden', 'a/.x.tmp', 'a\\b', 'a/ b', 'a/', 'ä']) {
      for (const op of [() => store.put(bad, Buffer.from('x')), () => store.get(bad), () => store.size(bad), () => store.remove(bad), () => store.removeTree(bad)]) {
        const error = await t.throwsAsync(op(), { instanceOf: TroupeError }, JSON.stringify(bad));
        t.is(error?.code, 'TROUPE_INVALID_ARGUMENT');
      }
    }
    t.is((await t.throwsAsync(store.list('../up'), { instanceOf: TroupeError }))?.code, 'TROUPE_INVALID_ARGUMENT');
  });

  it('a put below a file fails and leaves the file as it was (contract 2)', async (t, { store }) => {
    await store.put('a', Buffer.from('file'));
    await t.throwsAsync(store.put('a/b', Buffer.from('x')));
    t.is(Buffer.from((await store.get('a'))!).toString(), 'file');
    t.deepEqual(await store.list(''), ['a']);
  });

  // ---- layout and round trips ----

  it('files land at <job>/chk-<n>/, <job>/shared/, <job>/taskowned/, and _metadata last (layout, invariant 1)', async (t, { store }) => {
    const storage = new JobCheckpointStorage(store, JOB);
    const w = storage.writer(3, 0);
    const exclusive = await w.writeValue('op-0', 1);
    const shared = await w.write('sst-1', Buffer.from('piece'), 'shared');
    const owned = await w.write('log-1', Buffer.from('log'), 'task-owned');
    t.deepEqual([exclusive.path, shared.path, owned.path], ['chk-3/op-0', 'shared/sst-1', 'taskowned/log-1']);
    t.deepEqual(await storage.listCompleted(), []);
    await storage.finalize(3, 0, { timestamp: 5, files: [exclusive, shared, owned] });
    t.deepEqual(await allFiles(store, JOB), [`${JOB}/chk-3/_metadata`, `${JOB}/chk-3/op-0`, `${JOB}/shared/sst-1`, `${JOB}/taskowned/log-1`]);
    t.deepEqual(await storage.listCompleted(), [3]);
  });

  it('a finalized checkpoint loads on another host with its state, and every file reads back exactly (invariants 1, 5)', async (t, h) => {
    const storage = new JobCheckpointStorage(h.store, JOB);
    const w = storage.writer(7, 2);
    const value = { counts: new Map([['a', 1n << 70n]]), bytes: Buffer.from([0, 255]), list: [1.5, -0, 'x'], when: new Date(5) };
    const files = [await w.writeValue('op-0', value), await w.write('raw', Buffer.from('raw bytes'), 'shared')];
    const done = await storage.finalize(7, 2, { timestamp: 1234, files, state: { operators: { map: [{ subtask: 0, files: [0, 1] }] } } });
    t.is(done.base, JOB);
    const there = new JobCheckpointStorage(h.reopen(), JOB);
    const loaded = await there.load(7);
    t.deepEqual(loaded, { kind: 'checkpoint', jobId: JOB, checkpointId: 7, epoch: 2, timestamp: 1234, files, state: { operators: { map: [{ subtask: 0, files: [0, 1] }] } }, base: JOB });
    const reader = checkpointReader(h.reopen(), loaded);
    t.deepEqual(await reader.readValue(loaded.files[0]!), value);
    t.deepEqual(await reader.read(loaded.files[1]!), Buffer.from('raw bytes'));
    await there.verify(loaded);
  });

  // ---- corruption is found and names the file (file format 1-3, invariant 5) ----

  it('a state file cut short at any length fails to read, naming the file (file format 1, 2)', async (t, { store }) => {
    const storage = new JobCheckpointStorage(store, JOB);
    const handle = await storage.writer(1, 0).writeValue('op-0', { some: 'state', n: [1, 2, 3] });
    const path = `${JOB}/${handle.path}`;
    const whole = Buffer.from((await store.get(path))!);
    for (const length of [0, 1, 7, 8, 20, 33, 34, 60, whole.length - 1]) {
      await store.put(path, whole.subarray(0, length));
      await rejects(t, storage.reader().read(handle), 'TROUPE_CHECKPOINT_CORRUPT', 'truncated', store.locate(path));
    }
    await store.put(path, Buffer.concat([whole, Buffer.from([0])]));
    await rejects(t, storage.reader().read(handle), 'TROUPE_CHECKPOINT_CORRUPT', 'trailing-bytes', store.locate(path));
    await store.put(path, whole);
    t.deepEqual(await storage.reader().readValue(handle), { some: 'state', n: [1, 2, 3] });
  });

  it('a flipped bit anywhere in a state file fails the read, naming the file (file format 1, 2)', async (t, { store }) => {
    const storage = new JobCheckpointStorage(store, JOB);
    const handle = await storage.writer(1, 0).writeValue('op-0', 'small');
    const path = `${JOB}/${handle.path}`;
    for (let i = 0; i < handle.bytes; i++) {
      const original = await flipBit(store, path, i, i % 8);
      await rejects(t, storage.reader().read(handle), 'TROUPE_CHECKPOINT_CORRUPT', undefined, store.locate(path));
      await store.put(path, original);
    }
    t.is(await storage.reader().readValue(handle), 'small');
  });

  it('a flipped bit or a cut in _metadata fails the load, naming _metadata (invariant 5)', async (t, { store }) => {
    const storage = new JobCheckpointStorage(store, JOB);
    await completeCheckpoint(storage, 1);
    const path = `${JOB}/chk-1/_metadata`;
    const size = (await store.size(path))!;
    for (let i = 0; i < size; i += 3) {
      const original = await flipBit(store, path, i, (i * 5) % 8);
      await rejects(t, storage.load(1), 'TROUPE_CHECKPOINT_CORRUPT', undefined, store.locate(path));
      await store.put(path, original);
    }
    const whole = (await store.get(path))!;
    await store.put(path, whole.subarray(0, size - 10));
    await rejects(t, storage.load(1), 'TROUPE_CHECKPOINT_CORRUPT', 'truncated', store.locate(path));
    await store.put(path, whole);
    t.is((await storage.load(1)).checkpointId, 1);
  });

  it('a file of another job in this job\'s place is refused as wrong-job (file format 1)', async (t, { store }) => {
    const mine = new JobCheckpointStorage(store, JOB);
    const theirs = new JobCheckpointStorage(store, OTHER_JOB);
    const handle = await mine.writer(1, 0).writeValue('op-0', 'mine');
    const foreign = await theirs.writer(1, 0).writeValue('op-0', 'theirs');
    await store.put(`${JOB}/${handle.path}`, (await store.get(`${OTHER_JOB}/${foreign.path}`))!);
    await rejects(t, mine.reader().read(handle), 'TROUPE_CHECKPOINT_CORRUPT', 'wrong-job', store.locate(`${JOB}/${handle.path}`));
  });

  it('a valid file that replaced the referenced one is refused as digest-mismatch (file format 3)', async (t, { store }) => {
    const storage = new JobCheckpointStorage(store, JOB);
    const [handle] = await completeCheckpoint(storage, 1);
    const path = `${JOB}/${handle!.path}`;
    const forged = encodeFile({ kind: 'exclusive', jobId: JOB, checkpointId: 1, epoch: 0 }, encodeValue({ checkpoint: 99 }));
    t.is(forged.bytes.length, handle!.bytes);
    await store.put(path, forged.bytes);
    await rejects(t, storage.reader().read(handle!), 'TROUPE_CHECKPOINT_CORRUPT', 'digest-mismatch', store.locate(path));
    await rejects(t, storage.verify(await storage.load(1)), 'TROUPE_CHECKPOINT_CORRUPT', 'digest-mismatch', store.locate(path));
  });

  it('a missing state file fails load and read, naming the file (invariant 5)', async (t, { store }) => {
    const storage = new JobCheckpointStorage(store, JOB);
    const piece = await storage.writer(1, 0).write('sst-1', Buffer.from('p'), 'shared');
    const [own] = await completeCheckpoint(storage, 1, [piece]);
    await store.remove(`${JOB}/shared/sst-1`);
    await rejects(t, storage.load(1), 'TROUPE_CHECKPOINT_CORRUPT', 'missing', store.locate(`${JOB}/shared/sst-1`));
    await rejects(t, storage.reader().read(piece), 'TROUPE_CHECKPOINT_CORRUPT', 'missing', store.locate(`${JOB}/shared/sst-1`));
    t.deepEqual(await storage.reader().readValue(own!), { checkpoint: 1 });
  });

  it('a state file whose verified body is no encoded value fails readValue as bad-body, the codec error as cause (file format 2)', async (t, { store }) => {
    const storage = new JobCheckpointStorage(store, JOB);
    const handle = await storage.writer(1, 0).write('op-0', Buffer.from([0xff]));
    t.deepEqual(await storage.reader().read(handle), Buffer.from([0xff]));
    const error = await rejects(t, storage.reader().readValue(handle), 'TROUPE_CHECKPOINT_CORRUPT', 'bad-body', store.locate(`${JOB}/${handle.path}`));
    t.is(error?.causeRecord?.name, 'TROUPE_CODEC_CORRUPT');
  });

  it('a checkpoint without _metadata is not found, naming where it looked (invariant 1)', async (t, { store }) => {
    const storage = new JobCheckpointStorage(store, JOB);
    await storage.writer(4, 0).writeValue('op-0', 1);
    await rejects(t, storage.load(4), 'TROUPE_CHECKPOINT_NOT_FOUND', 'not-found', store.locate(`${JOB}/chk-4/_metadata`));
    await rejects(t, storage.load(5), 'TROUPE_CHECKPOINT_NOT_FOUND', 'not-found');
  });

  it('latestRestorable skips newer checkpoints that do not verify and says why (invariant 5)', async (t, { store }) => {
    const storage = new JobCheckpointStorage(store, JOB);
    await completeCheckpoint(storage, 1);
    await completeCheckpoint(storage, 2);
    const [third] = await completeCheckpoint(storage, 3);
    await flipBit(store, `${JOB}/chk-2/op-0`, 40, 1);
    await store.remove(`${JOB}/${third!.path}`);
    const { checkpoint, skipped } = await storage.latestRestorable();
    t.is(checkpoint?.checkpointId, 1);
    t.deepEqual(
      skipped.map((s) => [s.checkpointId, s.error.code, s.error.details?.file]),
      [
        [3, 'TROUPE_CHECKPOINT_CORRUPT', store.locate(`${JOB}/chk-3/op-0`)],
        [2, 'TROUPE_CHECKPOINT_CORRUPT', store.locate(`${JOB}/chk-2/op-0`)],
      ],
    );
    await store.remove(`${JOB}/chk-1/op-0`);
    t.is((await storage.latestRestorable()).checkpoint, null);
  });

  // ---- fencing (writer 2, invariant 2) ----

  it('after a newer epoch is registered, older writers are fenced and the current one writes (invariant 2)', async (t, { store }) => {
    const storage = new JobCheckpointStorage(store, JOB);
    t.is(await storage.currentEpoch(), 0);
    await storage.registerEpoch(2);
    t.is(await storage.currentEpoch(), 2);
    const error = await rejects(t, storage.writer(5, 1).writeValue('op-0', 'zombie'), 'TROUPE_CHECKPOINT_FENCED', 'fenced');
    t.regex(error?.message ?? '', /epoch 1 is older than the registered epoch 2/);
    t.is(await store.get(`${JOB}/chk-5/op-0`), undefined);
    await storage.writer(5, 2).writeValue('op-0', 'current');
    await storage.writer(5, 3).writeValue('op-1', 'newer epochs may write');
  });

  it('epochs only grow; registering the current one again is a no-op (invariant 2)', async (t, { store }) => {
    const storage = new JobCheckpointStorage(store, JOB);
    await storage.registerEpoch(3);
    await storage.registerEpoch(3);
    await rejects(t, storage.registerEpoch(2), 'TROUPE_CHECKPOINT_FENCED', 'fenced');
    t.is(await storage.currentEpoch(), 3);
    await t.throwsAsync(storage.registerEpoch(-1), { instanceOf: TroupeError });
    await t.throwsAsync(storage.registerEpoch(2 ** 32), { instanceOf: TroupeError });
  });

  it('a zombie task keeps its old writer while another host registers a new epoch: its writes are refused (invariant 2)', async (t, h) => {
    const zombieSide = new JobCheckpointStorage(h.store, JOB);
    await zombieSide.registerEpoch(1);
    const zombie = zombieSide.writer(8, 1);
    await zombie.writeValue('op-0', 'before the failover');
    const newMaster = new JobCheckpointStorage(h.reopen(), JOB);
    await newMaster.registerEpoch(2);
    await rejects(t, zombie.writeValue('op-1', 'after'), 'TROUPE_CHECKPOINT_FENCED', 'fenced');
    await rejects(t, zombie.write('sst', Buffer.from('x'), 'shared'), 'TROUPE_CHECKPOINT_FENCED', 'fenced');
    await rejects(t, zombieSide.finalize(8, 1, { timestamp: 1, files: [] }), 'TROUPE_CHECKPOINT_FENCED', 'fenced');
    t.deepEqual(await allFiles(h.store, JOB), [`${JOB}/_epoch`, `${JOB}/chk-8/op-0`]);
  });

  it('a file created while a newer epoch was being registered is removed again (writer 2)', async (t, { store }) => {
    const hooked = new HookStore(store);
    const storage = new JobCheckpointStorage(hooked, JOB);
    const other = new JobCheckpointStorage(store, JOB);
    const w = storage.writer(1, 0);
    hooked.afterPut = async () => other.registerEpoch(1);
    await rejects(t, w.writeValue('op-0', 'raced'), 'TROUPE_CHECKPOINT_FENCED', 'fenced');
    t.is(await store.get(`${JOB}/chk-1/op-0`), undefined);
  });

  it('writes into a finalized checkpoint are refused in every scope (writer 2)', async (t, { store }) => {
    const storage = new JobCheckpointStorage(store, JOB);
    const w = storage.writer(2, 0);
    const a = await w.writeValue('op-0', 1);
    await storage.finalize(2, 0, { timestamp: 1, files: [a] });
    for (const scope of ['exclusive', 'shared', 'task-owned'] as const) {
      await rejects(t, w.writeValue('late', 2, scope), 'TROUPE_CHECKPOINT_CONFLICT', 'finalized');
      await rejects(t, storage.writer(2, 0).writeValue('late', 2, scope), 'TROUPE_CHECKPOINT_CONFLICT', 'finalized');
    }
    t.deepEqual(await allFiles(store, JOB), [`${JOB}/chk-2/_metadata`, `${JOB}/chk-2/op-0`]);
  });

  it('finalize again with the same content returns the checkpoint; with other content it is refused (invariant 1)', async (t, { store }) => {
    const storage = new JobCheckpointStorage(store, JOB);
    const a = await storage.writer(1, 0).writeValue('op-0', 1);
    const first = await storage.finalize(1, 0, { timestamp: 10, files: [a], state: { x: 1 } });
    t.deepEqual(await storage.finalize(1, 0, { timestamp: 10, files: [a], state: { x: 1 } }), first);
    await rejects(t, storage.finalize(1, 0, { timestamp: 11, files: [a], state: { x: 1 } }), 'TROUPE_CHECKPOINT_CONFLICT', 'finalized');
    t.deepEqual(storage.registry.checkpoints, [1]);
  });

  it('finalize refuses missing, resized, foreign and malformed handles (invariant 1)', async (t, { store }) => {
    const storage = new JobCheckpointStorage(store, JOB);
    const own = await storage.writer(2, 0).writeValue('op-0', 1);
    const older = await storage.writer(1, 0).writeValue('op-0', 1);
    await rejects(t, storage.finalize(2, 0, { timestamp: 1, files: [older] }), 'TROUPE_INVALID_ARGUMENT');
    await rejects(t, storage.finalize(2, 0, { timestamp: 1, files: [{ ...own, path: 'chk-2/gone' }] }), 'TROUPE_CHECKPOINT_CORRUPT', 'missing', store.locate(`${JOB}/chk-2/gone`));
    await rejects(t, storage.finalize(2, 0, { timestamp: 1, files: [{ ...own, bytes: own.bytes + 1 }] }), 'TROUPE_CHECKPOINT_CORRUPT', 'truncated');
    for (const path of ['../x', 'chk-2/../../etc', '/abs', 'chk-2/_metadata', 'elsewhere/op-0']) {
      await rejects(t, storage.finalize(2, 0, { timestamp: 1, files: [{ ...own, path }] }), 'TROUPE_INVALID_ARGUMENT');
    }
    await rejects(t, storage.finalize(2, 0, { timestamp: 1, files: [{ ...own, scope: 'shared' }] }), 'TROUPE_INVALID_ARGUMENT');
    await rejects(t, storage.finalize(2, 0, { timestamp: 1, files: [{ ...own, sha256: 'nope' }] }), 'TROUPE_INVALID_ARGUMENT');
    await rejects(t, storage.finalize(2, 0, { timestamp: NaN, files: [own] }), 'TROUPE_INVALID_ARGUMENT');
    await rejects(t, storage.finalize(2, 0, { timestamp: 1, files: [own, { ...own, sha256: 'f'.repeat(64) }] }), 'TROUPE_INVALID_ARGUMENT');
    t.deepEqual(await storage.listCompleted(), []);
    t.is((await storage.finalize(2, 0, { timestamp: 1, files: [own, own] })).files.length, 1);
  });

  it('writing the same name twice: same bytes return the same handle, other bytes conflict (writer 1)', async (t, { store }) => {
    const storage = new JobCheckpointStorage(store, JOB);
    const w = storage.writer(1, 0);
    const a = await w.writeValue('op-0', { v: 1 });
    t.deepEqual(await storage.writer(1, 0).writeValue('op-0', { v: 1 }), a);
    await rejects(t, w.writeValue('op-0', { v: 2 }), 'TROUPE_CHECKPOINT_CONFLICT', 'conflict');
    const piece = await w.write('sst-1', Buffer.from('one'), 'shared');
    await rejects(t, storage.writer(2, 0).write('sst-1', Buffer.from('two'), 'shared'), 'TROUPE_CHECKPOINT_CONFLICT', 'conflict');
    t.deepEqual(await storage.reader().read(piece), Buffer.from('one'));
    t.deepEqual(await storage.reader().readValue(a), { v: 1 });
  });

  it('state file names must be plain segments not starting with _ (writer 3)', async (t, { store }) => {
    const w = new JobCheckpointStorage(store, JOB).writer(1, 0);
    for (const name of ['_metadata', '_epoch', '../x', 'a/b', '', '.tmp']) {
      await rejects(t, w.writeValue(name, 1), 'TROUPE_INVALID_ARGUMENT');
    }
    t.throws(() => new JobCheckpointStorage(store, '../job'), { instanceOf: TroupeError });
    t.throws(() => new JobCheckpointStorage(store, JOB).writer(-1, 0), { instanceOf: TroupeError });
    t.throws(() => new JobCheckpointStorage(store, JOB).writer(1, 0.5), { instanceOf: TroupeError });
  });

  // ---- shared state, discard, recovery (invariants 3, 4, 7) ----

  it('discarding deletes a checkpoint and exactly the shared pieces no retained checkpoint references (invariant 4)', async (t, { store }) => {
    const storage = new JobCheckpointStorage(store, JOB);
    const w1 = storage.writer(1, 0);
    const a = await w1.write('sst-a', Buffer.from('a'), 'shared');
    const b = await w1.write('sst-b', Buffer.from('b'), 'shared');
    await completeCheckpoint(storage, 1, [a, b]);
    const c = await storage.writer(2, 0).write('sst-c', Buffer.from('c'), 'shared');
    await completeCheckpoint(storage, 2, [b, c]);
    t.is(storage.registry.refCount('shared/sst-b'), 2);
    t.deepEqual(await storage.discard(1), ['shared/sst-a']);
    t.deepEqual(await allFiles(store, JOB), [`${JOB}/chk-2/_metadata`, `${JOB}/chk-2/op-0`, `${JOB}/shared/sst-b`, `${JOB}/shared/sst-c`]);
    t.deepEqual(await storage.reader().read(b), Buffer.from('b'));
    t.deepEqual((await storage.discard(2)).sort(), ['shared/sst-b', 'shared/sst-c']);
    t.deepEqual(await allFiles(store, JOB), []);
    t.deepEqual(await storage.discard(2), []);
  });

  it('a storage opened later rebuilds the reference counts from the store before discarding (invariant 3)', async (t, h) => {
    const first = new JobCheckpointStorage(h.store, JOB);
    const a = await first.writer(1, 0).write('sst-a', Buffer.from('a'), 'shared');
    await completeCheckpoint(first, 1, [a]);
    await completeCheckpoint(first, 2, [a]);
    const later = new JobCheckpointStorage(h.reopen(), JOB);
    t.deepEqual(await later.discard(1), []);
    t.deepEqual(await later.reader().read(a), Buffer.from('a'));
    t.deepEqual(await later.discard(2), ['shared/sst-a']);
    t.is(await h.store.get(`${JOB}/shared/sst-a`), undefined);
  });

  it('recover lists the completed checkpoints and the unreadable ones (invariant 3)', async (t, h) => {
    const storage = new JobCheckpointStorage(h.store, JOB);
    const a = await storage.writer(1, 0).write('sst-a', Buffer.from('a'), 'shared');
    await completeCheckpoint(storage, 1, [a]);
    await completeCheckpoint(storage, 2);
    await flipBit(h.store, `${JOB}/chk-2/_metadata`, 50, 0);
    const result = await new JobCheckpointStorage(h.reopen(), JOB).recover();
    t.deepEqual(result.completed.map((c) => c.checkpointId), [1]);
    t.deepEqual(result.unreadable.map((u) => [u.checkpointId, u.error.code, u.error.details?.file]), [[2, 'TROUPE_CHECKPOINT_CORRUPT', h.store.locate(`${JOB}/chk-2/_metadata`)]]);
  });

  it('retainLatest keeps the newest checkpoints and the pieces they need (invariant 4)', async (t, { store }) => {
    const storage = new JobCheckpointStorage(store, JOB);
    const base = await storage.writer(1, 0).write('base', Buffer.from('base'), 'shared');
    let previous: StateFileHandle[] = [base];
    for (let n = 1; n <= 5; n++) {
      const delta = await storage.writer(n, 0).write(`delta-${n}`, Buffer.from(`d${n}`), 'shared');
      previous = [...previous.slice(-2), delta];
      await completeCheckpoint(storage, n, [base, ...previous]);
    }
    t.deepEqual(await storage.retainLatest(2), [1, 2, 3]);
    t.deepEqual(await storage.listCompleted(), [4, 5]);
    const needed = new Set([...(await storage.load(4)).files, ...(await storage.load(5)).files].filter((f) => f.scope === 'shared').map((f) => f.path));
    t.deepEqual((await store.list(`${JOB}/shared`)).map((n) => `shared/${n}`), [...needed].sort());
    await storage.verify(await storage.load(4));
    t.deepEqual(await storage.retainLatest(2), []);
    await rejects(t, storage.retainLatest(0), 'TROUPE_INVALID_ARGUMENT');
  });

  it('abort removes a checkpoint that was not finalized and refuses a finalized one', async (t, { store }) => {
    const storage = new JobCheckpointStorage(store, JOB);
    await storage.writer(3, 0).writeValue('op-0', 1);
    await storage.abort(3);
    t.deepEqual(await store.list(JOB), []);
    await completeCheckpoint(storage, 4);
    await rejects(t, storage.abort(4), 'TROUPE_CHECKPOINT_CONFLICT', 'finalized');
    t.deepEqual(await storage.listCompleted(), [4]);
  });

  it('collectGarbage removes abandoned checkpoint directories and orphaned pieces below the given id only (invariant 7)', async (t, { store }) => {
    const storage = new JobCheckpointStorage(store, JOB);
    const kept = await storage.writer(1, 0).write('kept', Buffer.from('k'), 'shared');
    await completeCheckpoint(storage, 1, [kept]);
    const w2 = storage.writer(2, 0);
    await w2.writeValue('op-0', 'aborted');
    await w2.write('orphan', Buffer.from('o'), 'shared');
    await storage.writer(2, 0).write('owned', Buffer.from('t'), 'task-owned');
    const w4 = storage.writer(4, 0);
    await w4.writeValue('op-0', 'in flight');
    await w4.write('fresh', Buffer.from('f'), 'shared');
    await store.put(`${JOB}/shared/junk`, Buffer.from('not a checkpoint file'));
    t.deepEqual((await storage.collectGarbage(4)).sort(), ['chk-2', 'shared/junk', 'shared/orphan']);
    t.deepEqual(await allFiles(store, JOB), [`${JOB}/chk-1/_metadata`, `${JOB}/chk-1/op-0`, `${JOB}/chk-4/op-0`, `${JOB}/shared/fresh`, `${JOB}/shared/kept`, `${JOB}/taskowned/owned`]);
    await storage.verify(await storage.load(1));
  });

  it('discardHandles deletes rejected or aborted state but nothing a completed checkpoint uses (invariant 7)', async (t, { store }) => {
    const storage = new JobCheckpointStorage(store, JOB);
    const kept = await storage.writer(1, 0).write('kept', Buffer.from('k'), 'shared');
    const [completedFile] = await completeCheckpoint(storage, 1, [kept]);
    const w = storage.writer(2, 0);
    const rejected = [await w.writeValue('op-0', 'zombie'), await w.write('fresh', Buffer.from('f'), 'shared'), await w.write('log', Buffer.from('l'), 'task-owned')];
    const replaced = await w.writeValue('op-1', 'first');
    await store.remove(`${JOB}/${replaced.path}`);
    await storage.writer(2, 0).writeValue('op-1', 'recreated');
    t.deepEqual(await storage.discardHandles([...rejected, kept, completedFile!, replaced]), ['chk-2/op-0', 'shared/fresh']);
    t.deepEqual(await storage.discardHandles(rejected), []);
    t.deepEqual(await allFiles(store, JOB), [`${JOB}/chk-1/_metadata`, `${JOB}/chk-1/op-0`, `${JOB}/chk-2/op-1`, `${JOB}/shared/kept`, `${JOB}/taskowned/log`]);
    await storage.verify(await storage.load(1));
    await rejects(t, storage.discardHandles([{ ...kept, sha256: 'x' }]), 'TROUPE_INVALID_ARGUMENT');
  });

  it('listCompleted sees only chk-<n> directories with _metadata', async (t, { store }) => {
    const storage = new JobCheckpointStorage(store, JOB);
    await completeCheckpoint(storage, 10);
    await completeCheckpoint(storage, 9);
    await storage.writer(11, 0).writeValue('op-0', 1);
    await store.put(`${JOB}/chk-x/_metadata`, Buffer.from('junk'));
    await store.put(`${JOB}/chk-007/_metadata`, Buffer.from('junk'));
    await store.put(`${JOB}/notes`, Buffer.from('junk'));
    t.deepEqual(await storage.listCompleted(), [9, 10]);
  });

  // ---- savepoints (invariant 6) ----

  it('a savepoint is self-contained: moved elsewhere it opens and restores into another job (invariant 6)', async (t, h) => {
    const storage = new JobCheckpointStorage(h.store, JOB);
    await storage.registerEpoch(1);
    const dir = `savepoints/${savepointDirName(JOB)}`;
    t.regex(dir, /^savepoints\/savepoint-a1b2c3-[0-9a-f]{12}$/);
    const w = storage.savepointWriter(h.store, dir, 12, 1);
    const files = [await w.writeValue('op-0', { full: true }), await w.write('sst-1', Buffer.from('piece'), 'shared'), await w.write('log', Buffer.from('log'), 'task-owned')];
    t.deepEqual(files.map((f) => f.path), ['op-0', 'shared/sst-1', 'taskowned/log']);
    await storage.finalizeSavepoint(h.store, dir, 12, 1, { timestamp: 99, files, state: { uid: 'map' } });
    t.deepEqual(await allFiles(h.store, dir), [`${dir}/_metadata`, `${dir}/op-0`, `${dir}/shared/sst-1`, `${dir}/taskowned/log`]);
    await copyTree(h.store, dir, 'moved/sp');
    await discardSavepoint(h.store, dir);
    t.deepEqual(await h.store.list('savepoints'), []);
    const opened = await openSavepoint(h.reopen(), 'moved/sp');
    t.like(opened, { kind: 'savepoint', jobId: JOB, checkpointId: 12, epoch: 1, timestamp: 99, state: { uid: 'map' }, base: 'moved/sp' });
    const reader = checkpointReader(h.reopen(), opened);
    t.deepEqual(await reader.readValue(opened.files[0]!), { full: true });
    t.deepEqual(await reader.read(opened.files[1]!), Buffer.from('piece'));
    await reader.verifyAll(opened.files);
    // a job with another id restores from it: the reader checks the savepoint's own job id
    t.is(new JobCheckpointStorage(h.store, OTHER_JOB).jobId, OTHER_JOB);
  });

  it('a savepoint refuses files outside its directory, late writes and fenced epochs (invariants 2, 6)', async (t, { store }) => {
    const storage = new JobCheckpointStorage(store, JOB);
    const [checkpointFile] = await completeCheckpoint(storage, 1);
    const dir = 'sp/one';
    const w = storage.savepointWriter(store, dir, 2, 0);
    const own = await w.writeValue('op-0', 1);
    await rejects(t, storage.finalizeSavepoint(store, dir, 2, 0, { timestamp: 1, files: [checkpointFile!] }), 'TROUPE_INVALID_ARGUMENT');
    await rejects(t, storage.finalizeSavepoint(store, dir, 2, 0, { timestamp: 1, files: [{ ...own, path: '../one/op-0' }] }), 'TROUPE_INVALID_ARGUMENT');
    await rejects(t, storage.finalizeSavepoint(store, dir, 2, 0, { timestamp: 1, files: [{ ...own, checkpointId: 1 }] }), 'TROUPE_INVALID_ARGUMENT');
    await storage.finalizeSavepoint(store, dir, 2, 0, { timestamp: 1, files: [own] });
    await rejects(t, w.writeValue('late', 1), 'TROUPE_CHECKPOINT_CONFLICT', 'finalized');
    await storage.registerEpoch(5);
    await rejects(t, storage.savepointWriter(store, 'sp/two', 3, 4).writeValue('op-0', 1), 'TROUPE_CHECKPOINT_FENCED', 'fenced');
    await rejects(t, storage.finalizeSavepoint(store, 'sp/two', 3, 4, { timestamp: 1, files: [] }), 'TROUPE_CHECKPOINT_FENCED', 'fenced');
  });

  it('opening a directory that holds no savepoint fails, naming what it looked for (invariant 6)', async (t, { store }) => {
    const storage = new JobCheckpointStorage(store, JOB);
    await completeCheckpoint(storage, 1);
    await rejects(t, openSavepoint(store, 'no/such'), 'TROUPE_CHECKPOINT_NOT_FOUND', 'not-found', store.locate('no/such/_metadata'));
    await rejects(t, openSavepoint(store, `${JOB}/chk-1`), 'TROUPE_CHECKPOINT_CORRUPT', 'bad-metadata', store.locate(`${JOB}/chk-1/_metadata`));
    const w = storage.savepointWriter(store, 'sp', 2, 0);
    const f = await w.writeValue('op-0', 1);
    await storage.finalizeSavepoint(store, 'sp', 2, 0, { timestamp: 1, files: [f] });
    await store.remove('sp/op-0');
    await rejects(t, openSavepoint(store, 'sp'), 'TROUPE_CHECKPOINT_CORRUPT', 'missing', store.locate('sp/op-0'));
  });
}

contract('fs');
contract('memory');

// ---- file-system specifics ----

async function fsRoot(t: ExecutionContext): Promise<string> {
  const root = await fs.mkdtemp(nodePath.join(tmpdir(), 'troupe-chk-fs-'));
  t.teardown(() => fs.rm(root, { recursive: true, force: true }));
  return root;
}

test('fs checkpoint store - the layout is plain files under the root, and no temp file is left behind', async (t) => {
  const root = await fsRoot(t);
  const store = new FsCheckpointStore(root);
  const storage = new JobCheckpointStorage(store, JOB);
  await storage.registerEpoch(1);
  await completeCheckpoint(storage, 1, [await storage.writer(1, 1).write('sst', Buffer.from('s'), 'shared')], 1);
  t.is(store.locate(`${JOB}/chk-1/_metadata`), nodePath.join(root, JOB, 'chk-1', '_metadata'));
  const raw = async (dir: string): Promise<string[]> => (await fs.readdir(nodePath.join(root, dir))).sort();
  t.deepEqual(await raw(JOB), ['_epoch', 'chk-1', 'shared']);
  t.deepEqual(await raw(`${JOB}/chk-1`), ['_metadata', 'op-0']);
  t.deepEqual(await raw(`${JOB}/shared`), ['sst']);
  const header = await fs.readFile(nodePath.join(root, JOB, 'chk-1', 'op-0'));
  t.is(header.toString('latin1', 0, 8), 'TROUPECK');
});

test('fs checkpoint store - temp files of a crashed write are never listed or read', async (t) => {
  const root = await fsRoot(t);
  const store = new FsCheckpointStore(root);
  const storage = new JobCheckpointStorage(store, JOB);
  await completeCheckpoint(storage, 1);
  await fs.writeFile(nodePath.join(root, JOB, 'chk-1', '._metadata.abcdef.tmp'), 'partial');
  await fs.mkdir(nodePath.join(root, JOB, 'chk-2'));
  await fs.writeFile(nodePath.join(root, JOB, 'chk-2', '._metadata.123456.tmp'), 'partial');
  t.deepEqual(await store.list(`${JOB}/chk-1`), ['_metadata', 'op-0']);
  t.deepEqual(await storage.listCompleted(), [1]);
  await storage.verify(await storage.load(1));
  t.deepEqual(await storage.collectGarbage(3), ['chk-2']);
});

test('fs checkpoint store - a failed put leaves no temp file', async (t) => {
  const root = await fsRoot(t);
  const store = new FsCheckpointStore(root);
  await fs.mkdir(nodePath.join(root, 'dir'));
  await fs.writeFile(nodePath.join(root, 'dir', 'file'), 'x');
  await t.throwsAsync(store.put('dir/file/below', Buffer.from('y')));
  await fs.mkdir(nodePath.join(root, 'target'));
  await fs.mkdir(nodePath.join(root, 'target', 'taken'));
  await t.throwsAsync(store.put('target/taken', Buffer.from('y')));
  t.deepEqual(await fs.readdir(nodePath.join(root, 'dir')), ['file']);
  t.deepEqual(await fs.readdir(nodePath.join(root, 'target')), ['taken']);
});

test('fs checkpoint store - a store rooted at a relative path resolves it once', async (t) => {
  const root = await fsRoot(t);
  const store = new FsCheckpointStore(nodePath.relative(process.cwd(), root));
  t.is(store.root, root);
  await store.put('x', Buffer.from('1'));
  t.is(await store.size('x'), 1);
});

// ---- the file envelope, pure (file format 1-3) ----

test('file format - encode then decode returns header and body, and the digest identifies the bytes (file format 3)', (t) => {
  const { bytes, sha256 } = encodeFile({ kind: 'shared', jobId: JOB, checkpointId: 2 ** 40, epoch: 7 }, Buffer.from('body'));
  const decoded = decodeFile(bytes, 'f', { kind: 'shared', jobId: JOB, checkpointId: 2 ** 40, sha256, bytes: bytes.length });
  t.deepEqual(decoded.header, { kind: 'shared', jobId: JOB, checkpointId: 2 ** 40, epoch: 7 });
  t.deepEqual(decoded.body, Buffer.from('body'));
  t.is(decoded.sha256, sha256);
  t.not(encodeFile({ kind: 'shared', jobId: JOB, checkpointId: 2 ** 40, epoch: 8 }, Buffer.from('body')).sha256, sha256);
});

test('file format - every single-bit flip of a file is detected (file format 1)', (t) => {
  const { bytes } = encodeFile({ kind: 'exclusive', jobId: 'j', checkpointId: 3, epoch: 1 }, Buffer.from('some state'));
  for (let i = 0; i < bytes.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const copy = Buffer.from(bytes);
      copy[i] = copy[i]! ^ (1 << bit);
      const error = t.throws(() => decodeFile(copy, 'the-file'), { instanceOf: TroupeError }, `byte ${i} bit ${bit}`);
      t.is(error?.code, 'TROUPE_CHECKPOINT_CORRUPT');
      t.is(error?.details?.file, 'the-file');
    }
  }
});

test('file format - each mismatch has its own reason (file format 1, 2)', (t) => {
  const { bytes } = encodeFile({ kind: 'exclusive', jobId: JOB, checkpointId: 3, epoch: 1 }, Buffer.from('x'));
  const reason = (input: Uint8Array, expect = {}): unknown => {
    try {
      decodeFile(input, 'f', expect);
      return 'ok';
    } catch (error) {
      return (error as TroupeError).details?.reason;
    }
  };
  t.is(reason(bytes), 'ok');
  t.is(reason(Buffer.from('not a checkpoint file at all, just text')), 'bad-magic');
  t.is(reason(Buffer.alloc(0)), 'truncated');
  const v2 = Buffer.from(bytes);
  v2.writeUInt16BE(2, 8);
  t.is(reason(v2), 'unsupported-version');
  t.is(reason(bytes, { jobId: OTHER_JOB }), 'wrong-job');
  t.is(reason(bytes, { checkpointId: 4 }), 'wrong-checkpoint');
  t.is(reason(bytes, { kind: 'shared' }), 'wrong-kind');
  t.is(reason(bytes, { bytes: bytes.length + 1 }), 'size-mismatch');
  t.is(reason(bytes, { sha256: '0'.repeat(64) }), 'digest-mismatch');
  t.is(reason(Buffer.concat([bytes, Buffer.from('!')])), 'trailing-bytes');
});

test('file format - invalid header fields are refused when writing', (t) => {
  for (const header of [
    { kind: 'exclusive', jobId: '', checkpointId: 1, epoch: 0 },
    { kind: 'exclusive', jobId: 'j', checkpointId: -1, epoch: 0 },
    { kind: 'exclusive', jobId: 'j', checkpointId: 2 ** 53, epoch: 0 },
    { kind: 'exclusive', jobId: 'j', checkpointId: 1, epoch: 2 ** 32 },
  ] as const) {
    t.is(t.throws(() => encodeFile(header, Buffer.alloc(0)), { instanceOf: TroupeError })?.code, 'TROUPE_INVALID_ARGUMENT');
  }
});

test('checkpoint metadata - a valid envelope around a body that is no metadata record is bad-metadata', (t) => {
  const notARecord = encodeFile({ kind: 'metadata', jobId: JOB, checkpointId: 1, epoch: 0 }, encodeValue([1, 2]));
  t.is(t.throws(() => decodeMetadata(notARecord.bytes, 'm'), { instanceOf: TroupeError })?.details?.reason, 'bad-metadata');
  const notAValue = encodeFile({ kind: 'metadata', jobId: JOB, checkpointId: 1, epoch: 0 }, Buffer.from([0xff]));
  const undecodable = t.throws(() => decodeMetadata(notAValue.bytes, 'm'), { instanceOf: TroupeError });
  t.like(undecodable, { code: 'TROUPE_CHECKPOINT_CORRUPT', details: { file: 'm', reason: 'bad-metadata' } });
  t.is(undecodable?.causeRecord?.name, 'TROUPE_CODEC_CORRUPT');
  const badHandle = encodeFile({ kind: 'metadata', jobId: JOB, checkpointId: 1, epoch: 0 }, encodeValue({ format: 1, kind: 'checkpoint', jobId: JOB, checkpointId: 1, epoch: 0, timestamp: 1, files: [{ path: '../x' }], state: null }));
  t.regex(t.throws(() => decodeMetadata(badHandle.bytes, 'm'), { instanceOf: TroupeError })?.message ?? '', /file 0: bad path/);
  const mismatch = encodeFile({ kind: 'metadata', jobId: JOB, checkpointId: 1, epoch: 0 }, encodeValue({ format: 1, kind: 'checkpoint', jobId: JOB, checkpointId: 2, epoch: 0, timestamp: 1, files: [], state: null }));
  t.regex(t.throws(() => decodeMetadata(mismatch.bytes, 'm'), { instanceOf: TroupeError })?.message ?? '', /disagrees with its header/);
});

// ---- the shared-state registry, pure (registry 1-3) ----

test('shared state registry - counts references per retained checkpoint, a checkpoint counts a piece once (registry 1)', (t) => {
  const r = new SharedStateRegistry();
  r.register(1, ['a', 'b', 'a']);
  r.register(2, ['b', 'c']);
  t.is(r.refCount('a'), 1);
  t.is(r.refCount('b'), 2);
  t.is(r.refCount('c'), 1);
  t.is(r.refCount('d'), 0);
  t.deepEqual(r.checkpoints, [1, 2]);
  t.deepEqual(r.pieces, ['a', 'b', 'c']);
});

test('shared state registry - unregister returns exactly the pieces that reached zero (registry 2)', (t) => {
  const r = new SharedStateRegistry();
  r.register(1, ['a', 'b']);
  r.register(2, ['b', 'c']);
  r.register(3, ['c']);
  t.deepEqual(r.unregister(2), []);
  t.deepEqual(r.unregister(1), ['a', 'b']);
  t.deepEqual(r.unregister(1), []);
  t.deepEqual(r.unregister(3), ['c']);
  t.deepEqual(r.pieces, []);
  t.false(r.has(3));
});

test('shared state registry - re-registering the same pieces is a no-op, other pieces a protocol violation (registry 3)', (t) => {
  const r = new SharedStateRegistry();
  r.register(1, ['a', 'b']);
  r.register(1, ['b', 'a']);
  t.is(r.refCount('a'), 1);
  t.is(t.throws(() => r.register(1, ['a']), { instanceOf: TroupeError })?.code, 'TROUPE_PROTOCOL_VIOLATION');
  t.is(r.refCount('b'), 1);
});

test('shared state registry - random register/unregister sequences match a recount from scratch (registry 1, 2)', (t) => {
  const rng = seededRng(12345);
  const rand = (n: number): number => rng.int(0, n - 1);
  const r = new SharedStateRegistry();
  const live = new Map<number, string[]>();
  const deleted = new Set<string>();
  for (let step = 0; step < 2000; step++) {
    if (live.size > 0 && rand(3) === 0) {
      const ids = [...live.keys()];
      const id = ids[rand(ids.length)]!;
      live.delete(id);
      for (const p of r.unregister(id)) {
        t.false([...live.values()].some((ps) => ps.includes(p)), `piece ${p} deleted while referenced`);
        t.false(deleted.has(p));
        deleted.add(p);
      }
    } else {
      const pieces = Array.from({ length: rand(5) }, () => `p${rand(40)}`).filter((p) => !deleted.has(p));
      r.register(step, pieces);
      live.set(step, pieces);
    }
    if (step % 100 === 0) {
      for (let p = 0; p < 40; p++) {
        const expected = [...live.values()].filter((ps) => ps.includes(`p${p}`)).length;
        t.is(r.refCount(`p${p}`), expected);
      }
    }
  }
});
