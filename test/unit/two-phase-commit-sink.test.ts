/**
 * The two-phase commit protocol (api/datastream/sinks/two-phase-commit-sink.ts) against an in-memory
 * external system shared by writers, so crashes, restarts and rescales can be replayed in-process.
 * Invariants are cited by number from the module header.
 */
import test from 'ava';
import {
  TransactionalWriter,
  TwoPhaseCommitSink,
  parseTransactionId,
  sanitizeIdPart,
  transactionIdPrefix,
  type Leftover,
  type TwoPhaseCommitSinkWriter,
} from '../../api/datastream/sinks/two-phase-commit-sink.js';
import type { SinkContext } from '../../api/datastream/sink.js';
import { TroupeError } from '../../core/errors.js';

/** The durable external system: what survives a crash. */
class Store {
  readonly open = new Map<string, number[]>();
  readonly staged = new Map<string, number[]>();
  readonly committed = new Map<string, number[]>();
  readonly log: string[] = [];
  failPreCommit = false;
  /** Holds pre-commits until released (to overlap them with other hooks). */
  gate: Promise<void> | undefined;
  /** Committed records in commit order. */
  visible(): number[] {
    return [...this.committed.values()].flat();
  }
}

interface FakeTxn {
  readonly id: string;
  values: number[];
}

class FakeTransactions extends TransactionalWriter<number, FakeTxn> {
  readonly kind = 'fake';
  constructor(private readonly store: Store) {
    super();
  }
  beginTransaction(id: string): FakeTxn {
    return { id, values: [] };
  }
  write(txn: FakeTxn, value: number): void {
    if (!Number.isFinite(value)) throw new TroupeError('TROUPE_RECORD_NOT_SERIALIZABLE', `bad value ${value}`);
    txn.values.push(value);
    this.store.open.set(txn.id, txn.values.slice());
  }
  isEmpty(txn: FakeTxn): boolean {
    return txn.values.length === 0;
  }
  async preCommit(txn: FakeTxn): Promise<void> {
    await this.store.gate;
    this.store.log.push(`pre-commit ${txn.id}`);
    if (this.store.failPreCommit) throw new Error('disk full');
    this.store.open.delete(txn.id);
    this.store.staged.set(txn.id, txn.values.slice());
  }
  async commit(txn: FakeTxn): Promise<void> {
    this.store.log.push(`commit ${txn.id}`);
    if (this.store.committed.has(txn.id)) return;
    const staged = this.store.staged.get(txn.id);
    if (staged === undefined) throw new Error(`lost ${txn.id}`);
    this.store.committed.set(txn.id, staged);
    this.store.staged.delete(txn.id);
  }
  async abort(txn: FakeTxn): Promise<void> {
    this.store.log.push(`abort ${txn.id}`);
    this.store.open.delete(txn.id);
    this.store.staged.delete(txn.id);
  }
  toState(txn: FakeTxn): unknown {
    return { values: txn.values.length };
  }
  fromState(id: string, state: unknown): FakeTxn {
    if (typeof (state as { values?: unknown })?.values !== 'number') throw new TroupeError('TROUPE_CHECKPOINT_CORRUPT', `bad ${id}`);
    return { id, values: [] };
  }
  override async listLeftovers(prefix: string): Promise<Array<Leftover<FakeTxn>>> {
    const mine = (id: string): boolean => id.startsWith(`${prefix}_`);
    return [
      ...[...this.store.open.keys()].filter(mine).map((id) => ({ id, sealed: false, txn: { id, values: [] } })),
      ...[...this.store.staged.keys()].filter(mine).map((id) => ({ id, sealed: true, txn: { id, values: [] } })),
    ];
  }
}

class FakeSink extends TwoPhaseCommitSink<number, FakeTxn> {
  constructor(private readonly store: Store) {
    super();
  }
  protected override createTransactionalWriter(): TransactionalWriter<number, FakeTxn> {
    return new FakeTransactions(this.store);
  }
}

function context(over: Partial<SinkContext> = {}): SinkContext {
  return { subtaskIndex: 0, parallelism: 1, operatorName: 'Sink', attempt: 0, jobId: 'job', checkpointing: true, collect: () => undefined, ...over };
}

async function opened(store: Store, over: Partial<SinkContext> = {}): Promise<TwoPhaseCommitSinkWriter<number, FakeTxn>> {
  const writer = new FakeSink(store).createWriter(context(over));
  await writer.open();
  return writer;
}

function writeAll(writer: { write(v: number): void }, ...values: number[]): void {
  for (const v of values) writer.write(v);
}

test('2pc ids - are job_scope_subtask_attempt_counter and parse back (5)', (t) => {
  const store = new Store();
  const writer = new FakeSink(store).createWriter(context({ jobId: 'abc', operatorName: 'Sink: out', subtaskIndex: 2, parallelism: 3, attempt: 4 }));
  writeAll(writer, 1);
  const ids = [...store.open.keys()];
  t.is(ids.length, 1);
  t.deepEqual(parseTransactionId(ids[0]!), { prefix: writer.idPrefix, subtask: 2, attempt: 4, counter: 0 });
  t.is(writer.idPrefix, transactionIdPrefix('abc', 'Sink: out'));
  t.is(parseTransactionId('a_b_1_2'), undefined);
  t.is(parseTransactionId('a_b_x_2_3'), undefined);
});

test('2pc ids - sanitizing keeps distinct names distinct and clean names as they are (5)', (t) => {
  t.is(sanitizeIdPart('Sink'), 'Sink');
  t.regex(sanitizeIdPart('Sink: a_b'), /^Sink-a-b-[0-9a-f]{8}$/);
  t.not(sanitizeIdPart('a b'), sanitizeIdPart('a-b'));
  t.not(sanitizeIdPart('a_b'), sanitizeIdPart('a-b'));
  t.regex(sanitizeIdPart('x'.repeat(100)), /^x{40}-[0-9a-f]{8}$/);
  t.regex(sanitizeIdPart('→✓'), /^[0-9a-f]{8}$/);
});

test('2pc - snapshotState seals synchronously: later writes belong to the next transaction (1, 2)', async (t) => {
  const store = new Store();
  const writer = await opened(store);
  writeAll(writer, 1, 2);
  const snapshot = writer.snapshotState(1);
  writeAll(writer, 3);
  const state = (await snapshot) as Array<{ id: string; checkpointId: number; kind: string }>;
  t.is(state.length, 1);
  t.is(state[0]!.checkpointId, 1);
  t.is(state[0]!.kind, 'fake');
  t.deepEqual(store.staged.get(state[0]!.id), [1, 2]);
  t.deepEqual(store.visible(), []);
  t.deepEqual([...store.open.values()], [[3]]);
});

test('2pc - nothing is visible before completion; completion commits what was sealed up to it, in order (3)', async (t) => {
  const store = new Store();
  const writer = await opened(store);
  writeAll(writer, 1);
  await writer.snapshotState(1);
  writeAll(writer, 2);
  await writer.snapshotState(2);
  writeAll(writer, 3);
  await writer.snapshotState(3);
  t.deepEqual(store.visible(), []);
  await writer.notifyCheckpointComplete(2);
  t.deepEqual(store.visible(), [1, 2]);
  t.is(writer.pendingIds.length, 1);
  await writer.notifyCheckpointComplete(3);
  t.deepEqual(store.visible(), [1, 2, 3]);
  t.deepEqual(writer.pendingIds, []);
});

test('2pc - an aborted checkpoint keeps its transaction pending until a later completion (3)', async (t) => {
  const store = new Store();
  const writer = await opened(store);
  writeAll(writer, 1);
  await writer.snapshotState(1);
  writer.notifyCheckpointAborted(1);
  writeAll(writer, 2);
  const state2 = await writer.snapshotState(2);
  t.is(state2.length, 2, 'the state of checkpoint 2 names both transactions');
  t.deepEqual(store.visible(), []);
  await writer.notifyCheckpointComplete(2);
  t.deepEqual(store.visible(), [1, 2]);
  t.deepEqual(
    store.log.filter((l) => l.startsWith('commit')).map((l) => parseTransactionId(l.split(' ')[1]!)!.counter),
    [0, 1],
  );
});

test('2pc - empty transactions are neither pre-committed nor listed (2)', async (t) => {
  const store = new Store();
  const writer = await opened(store);
  t.deepEqual(await writer.snapshotState(1), []);
  writeAll(writer, 1);
  await writer.snapshotState(2);
  t.is((await writer.snapshotState(3)).length, 1, 'only the non-empty transaction of checkpoint 2 is pending');
  await writer.notifyCheckpointComplete(3);
  t.deepEqual(store.log.filter((l) => l.startsWith('pre-commit')).length, 1);
  t.deepEqual(store.visible(), [1]);
});

test('2pc - a snapshot resolves with the transactions sealed up to it, not those of a later snapshot (2, 8)', async (t) => {
  const store = new Store();
  const writer = await opened(store);
  let release!: () => void;
  store.gate = new Promise((r) => (release = r));
  writeAll(writer, 1);
  const s1 = writer.snapshotState(1);
  writeAll(writer, 2);
  const s2 = writer.snapshotState(2);
  const done1 = writer.notifyCheckpointComplete(1);
  release();
  const [state1, state2] = await Promise.all([s1, s2, done1]);
  t.is(state1.length, 1);
  t.is(state2.length, 2, 'checkpoint 1 was still pending when snapshot 2 was taken');
  t.deepEqual(store.visible(), [1]);
  t.deepEqual(
    store.log.map((l) => l.split(' ')[0]),
    ['pre-commit', 'pre-commit', 'commit'],
    'hooks run one at a time, in call order',
  );
});

test('2pc - a crash mid-transaction, restart from the last checkpoint: committed and recovered records appear once each (4, 6a)', async (t) => {
  const store = new Store();
  const a0 = await opened(store);
  writeAll(a0, 1, 2);
  await a0.snapshotState(1);
  await a0.notifyCheckpointComplete(1);
  writeAll(a0, 3);
  const state2 = await a0.snapshotState(2); // checkpoint 2 completes, but the notification never arrives
  writeAll(a0, 4, 5); // open at the crash: no state names it
  // crash: a0 is dropped without close
  t.is(store.open.size, 1);

  const a1 = await opened(store, { attempt: 1, restoredState: state2 });
  t.deepEqual(store.visible(), [1, 2, 3], 'open() recovered and committed the transaction of checkpoint 2');
  t.is(store.open.size, 0, 'the in-progress transaction of attempt 0 was aborted');
  writeAll(a1, 4, 5); // the source replays what followed checkpoint 2
  await a1.flush();
  await a1.close();
  t.deepEqual(store.visible(), [1, 2, 3, 4, 5]);
});

test('2pc - recovering the same state twice commits once (4)', async (t) => {
  const store = new Store();
  const a0 = await opened(store);
  writeAll(a0, 1);
  const state = await a0.snapshotState(1);
  await a0.notifyCheckpointComplete(1); // committed, then the job crashes before checkpoint 2
  await opened(store, { attempt: 1, restoredState: state });
  await opened(store, { attempt: 2, restoredState: state });
  t.deepEqual(store.visible(), [1]);
  t.is(store.log.filter((l) => l.startsWith('commit')).length, 3);
});

test('2pc - a sealed transaction of an older attempt is not aborted at open: another subtask may hold it after rescale (6b)', async (t) => {
  const store = new Store();
  // attempt 0, parallelism 2: subtask 0 seals two transactions that stay pending in checkpoint 2
  const old0 = await opened(store, { parallelism: 2 });
  writeAll(old0, 1);
  await old0.snapshotState(1);
  writeAll(old0, 2);
  const old0State = await old0.snapshotState(2);
  const old1 = await opened(store, { parallelism: 2, subtaskIndex: 1 });
  writeAll(old1, 3);
  const old1State = await old1.snapshotState(2);
  writeAll(old1, 4); // in progress at the crash
  // the round-robin split gives new subtask 0 one element and new subtask 1 the other two
  const all = [...old0State, ...old1State];
  const new0 = await opened(store, { parallelism: 2, attempt: 1, restoredState: all.slice(0, 1) });
  t.is(store.staged.size, 2, 'subtask 0 left the sealed transactions it does not hold alone');
  t.is(store.open.size, 1, 'the in-progress leftover of old subtask 1 is for new subtask 1');
  const new1 = await opened(store, { parallelism: 2, subtaskIndex: 1, attempt: 1, restoredState: all.slice(1) });
  t.deepEqual(store.visible().sort(), [1, 2, 3]);
  t.is(store.open.size, 0, 'in-progress leftovers are certain orphans');
  for (const w of [new0, new1]) await w.close();
});

test('2pc - sealed orphans of older attempts are aborted after the first checkpoint of this attempt completes (6b)', async (t) => {
  const store = new Store();
  const a0 = await opened(store);
  writeAll(a0, 1);
  const state1 = await a0.snapshotState(1);
  writeAll(a0, 2);
  await a0.snapshotState(2); // never completes: its records are replayed after the restore from 1
  const a1 = await opened(store, { attempt: 1, restoredState: state1 });
  t.is(store.staged.size, 1, 'still there after open');
  writeAll(a1, 2);
  await a1.snapshotState(5);
  await a1.notifyCheckpointComplete(4);
  t.is(store.staged.size, 2, 'a completion of a checkpoint this writer did not take proves nothing');
  await a1.notifyCheckpointComplete(5);
  t.deepEqual([...store.staged.keys()], []);
  t.deepEqual(store.visible(), [1, 2]);
});

test('2pc - leftover cleanup touches only older attempts, other jobs and scopes never, and splits old subtasks by index mod parallelism (6)', async (t) => {
  const store = new Store();
  const prefix = transactionIdPrefix('job', 'Sink');
  for (const id of [`${prefix}_0_0_7`, `${prefix}_1_0_7`, `${prefix}_2_0_7`, `${prefix}_3_0_7`, `${prefix}_0_3_7`, `other_Sink_0_0_7`, `${transactionIdPrefix('job', 'Other')}_0_0_7`]) {
    store.open.set(id, [0]);
  }
  await opened(store, { attempt: 3, parallelism: 2, subtaskIndex: 1 });
  t.deepEqual([...store.open.keys()].sort(), [`${prefix}_0_0_7`, `${prefix}_0_3_7`, `${prefix}_2_0_7`, `other_Sink_0_0_7`, `${transactionIdPrefix('job', 'Other')}_0_0_7`].sort());
  await opened(store, { attempt: 3, parallelism: 2, subtaskIndex: 0 });
  t.deepEqual([...store.open.keys()].sort(), [`${prefix}_0_3_7`, `other_Sink_0_0_7`, `${transactionIdPrefix('job', 'Other')}_0_0_7`].sort());
});

test('2pc - flush commits the open transaction and every pending one; without checkpointing it is the only commit', async (t) => {
  const store = new Store();
  const writer = await opened(store);
  writeAll(writer, 1);
  await writer.snapshotState(1);
  writeAll(writer, 2);
  await writer.flush();
  t.deepEqual(store.visible(), [1, 2]);

  const plain = new Store();
  const noCheckpoints = await opened(plain, { checkpointing: false });
  writeAll(noCheckpoints, 1, 2, 3);
  t.deepEqual(plain.visible(), []);
  await noCheckpoints.flush();
  await noCheckpoints.close();
  t.deepEqual(plain.visible(), [1, 2, 3]);
});

test('2pc - close aborts the open transaction and leaves pending ones for a restore', async (t) => {
  const store = new Store();
  const writer = await opened(store);
  writeAll(writer, 1);
  const state = await writer.snapshotState(1);
  writeAll(writer, 2);
  await writer.close();
  t.is(store.open.size, 0);
  t.is(store.staged.size, 1);
  await opened(store, { attempt: 1, restoredState: state });
  t.deepEqual(store.visible(), [1]);
});

test('2pc - a failed pre-commit fails the writer for good: nothing more is committed (7)', async (t) => {
  const store = new Store();
  const writer = await opened(store);
  writeAll(writer, 1);
  store.failPreCommit = true;
  const error = await t.throwsAsync(writer.snapshotState(1), { message: /disk full/ });
  t.like(error, { code: 'TROUPE_SINK_FAILED', causeRecord: { message: 'disk full' } });
  store.failPreCommit = false;
  t.throws(() => writer.write(2), { message: /disk full/ });
  await t.throwsAsync(writer.notifyCheckpointComplete(1), { message: /disk full/ });
  await t.throwsAsync(writer.flush(), { message: /disk full/ });
  await writer.close();
  t.deepEqual(store.visible(), []);
});

test('2pc - a write that throws fails the writer; committed data stays as it was (7)', async (t) => {
  const store = new Store();
  const writer = await opened(store);
  writeAll(writer, 1);
  await writer.snapshotState(1);
  await writer.notifyCheckpointComplete(1);
  writeAll(writer, 2);
  const error = t.throws(() => writer.write(Number.NaN));
  t.is((error as TroupeError).code, 'TROUPE_RECORD_NOT_SERIALIZABLE');
  await t.throwsAsync(writer.snapshotState(2));
  await writer.close();
  t.deepEqual(store.visible(), [1]);
  t.is(store.open.size, 0);
});

test('2pc - a malformed or foreign restored element is refused with TROUPE_CHECKPOINT_CORRUPT', async (t) => {
  const store = new Store();
  for (const restoredState of [[{ nope: 1 }], [{ v: 1, kind: 'sqlite-table', id: 'job_Sink_0_0_0', checkpointId: 1, txn: {} }], [{ v: 1, kind: 'fake', id: 'job_Sink_0_0_0', checkpointId: 1, txn: {} }]]) {
    const writer = new FakeSink(store).createWriter(context({ attempt: 1, restoredState }));
    const error = await t.throwsAsync(writer.open());
    t.is((error as TroupeError).code, 'TROUPE_CHECKPOINT_CORRUPT');
  }
});
