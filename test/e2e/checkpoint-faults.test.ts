/**
 * Scripted checkpoint faults on an embedded cluster, with the coordinator on a manual clock: the
 * checkpoint store fails its 3rd state-file write, a sink declines a checkpoint, a sink never
 * finishes its pre-commit so a checkpoint times out. After each, the job keeps running and the next
 * checkpoint completes. One more failure than tolerated fails the job.
 */
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { MiniCluster } from '../../actors/mini-cluster.js';
import type { CheckpointsReport } from '../../actors/protocol/job-master.js';
import { StreamExecutionEnvironment } from '../../api/datastream/environment.js';
import type { Collector, KeyedProcessContext } from '../../api/datastream/functions.js';
import type { Sink, SinkWriter } from '../../api/datastream/sink.js';
import { ManualTimers } from '../../core/clock.js';
import type { JobId } from '../../core/ids.js';
import { MemoryCheckpointStore } from '../../state/checkpoint-storage/memory-checkpoint-store.js';
import type { PutOptions } from '../../state/checkpoint-storage/checkpoint-store.js';
import { registerMemoryStore, unregisterMemoryStore } from '../../state/checkpoint-storage/open-store.js';

/** Fails the n-th write of a state file (not metadata, not the epoch). */
class FaultyStore extends MemoryCheckpointStore {
  stateWrites = 0;
  constructor(private readonly failOn: number) {
    super('faulty');
  }
  override async put(path: string, bytes: Uint8Array, options?: PutOptions): Promise<boolean> {
    if (path.includes('/shared/') && ++this.stateWrites === this.failOn) throw new Error(`disk full (state write #${this.failOn})`);
    return super.put(path, bytes, options);
  }
}

/** A sink whose pre-commit declines at some checkpoints and never finishes at others. */
class ScriptedSink implements Sink<unknown> {
  constructor(
    private readonly declineAt: ReadonlySet<number>,
    private readonly hangAt: ReadonlySet<number>,
  ) {}
  createWriter(): SinkWriter<unknown> {
    const { declineAt, hangAt } = this;
    return {
      write: () => undefined,
      snapshotState: (id) => {
        if (declineAt.has(id)) return Promise.reject(new Error(`scripted decline of checkpoint ${id}`));
        if (hangAt.has(id)) return new Promise<never>(() => undefined);
        return Promise.resolve([]);
      },
    };
  }
}

interface Harness {
  readonly cluster: MiniCluster;
  readonly timers: ManualTimers;
  readonly jobId: JobId;
  report(): Promise<CheckpointsReport>;
}

let stores = 0;

async function start(t: import('ava').ExecutionContext, o: { failWrite: number; declineAt: number[]; hangAt: number[]; tolerable: number }): Promise<Harness> {
  const timers = new ManualTimers(Date.now());
  const name = `faults-${process.pid}-${stores++}`;
  const root = registerMemoryStore(name, new FaultyStore(o.failWrite));
  const cluster = await MiniCluster.start({ jobMasterTimers: timers });
  t.teardown(async () => {
    await cluster.close();
    unregisterMemoryStore(name);
  });
  const env = StreamExecutionEnvironment.create({ parallelism: 2 });
  env.enableCheckpointing(1_000, { timeoutMs: 5_000, tolerableFailures: o.tolerable }).setCheckpointStorage(root).setRestartStrategy({ type: 'none' });
  env
    .fromSequence(0, 1e9, { ratePerSecond: 2_000 })
    .keyBy((x) => x % 5)
    .process({
      processElement(x: number, ctx: KeyedProcessContext<number>, out: Collector<number>): void {
        const seen = ctx.runtime.getState<number>({ name: 'seen' });
        seen.update((seen.value() ?? 0) + 1);
        out.collect(x);
      },
    })
    .sinkTo(new ScriptedSink(new Set(o.declineAt), new Set(o.hangAt)), 'Scripted');
  const { graph, userCode } = env.build('faults');
  const jobId = await cluster.submit(graph, userCode);
  const report = (): Promise<CheckpointsReport> => cluster.dispatcher.ask({ type: 'job-checkpoints', jobId });
  return { cluster, timers, jobId, report };
}

/** Waits (in real time) until no checkpoint is pending. */
async function settled(h: Harness): Promise<CheckpointsReport> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await h.report();
    if (r.pending.length === 0) return r;
    if (Date.now() > deadline) throw new Error(`checkpoints still pending: ${JSON.stringify(r.pending)}`);
    await sleep(20);
  }
}

async function status(h: Harness): Promise<string> {
  return (await h.cluster.status(h.jobId)).status;
}

/** Advances the manual clock to the next trigger and waits until that checkpoint ended. */
async function nextCheckpoint(h: Harness): Promise<CheckpointsReport> {
  h.timers.advance(1_000);
  await sleep(50);
  return settled(h);
}

const completed = (r: CheckpointsReport): number[] => r.history.filter((c) => c.kind === 'checkpoint').map((c) => c.checkpointId);

test('checkpoint faults - a failed store write, a decline and a timeout each abort one checkpoint; the job runs on and the next completes', async (t) => {
  t.timeout(60_000);
  const h = await start(t, { failWrite: 3, declineAt: [3], hangAt: [4], tolerable: 5 });
  await sleep(300); // deployed and running
  t.deepEqual(completed(await nextCheckpoint(h)), [1], 'checkpoint 1 completes (state writes 1 and 2)');
  t.deepEqual(completed(await nextCheckpoint(h)), [1], 'checkpoint 2 fails: the store refused state write 3');
  t.is(await status(h), 'running');
  t.deepEqual(completed(await nextCheckpoint(h)), [1], 'checkpoint 3 is declined by the sink');
  t.is(await status(h), 'running');

  // checkpoint 4: the sink never finishes its pre-commit; it times out after 5 s of manual time
  h.timers.advance(1_000);
  await sleep(300);
  t.deepEqual((await h.report()).pending.map((p) => p.checkpointId), [4], 'checkpoint 4 waits for the sink');
  h.timers.advance(5_000);
  const afterTimeout = await settled(h);
  t.false(completed(afterTimeout).includes(4), 'checkpoint 4 timed out');
  t.is(await status(h), 'running');

  // the next periodic checkpoint was due while 4 was pending: it starts right after the timeout
  const r = completed(afterTimeout).length === 2 ? afterTimeout : await nextCheckpoint(h);
  const done = completed(r);
  t.true(done.length === 2 && done[0] === 1 && done[1]! >= 5, `a later checkpoint completes: ${JSON.stringify(done)}`);
  t.deepEqual(r.retained, [done[1]], 'only the newest completed checkpoint is retained');
  t.is(await status(h), 'running');
  await h.cluster.cancel(h.jobId);
});

test('checkpoint faults - one failure more than tolerated fails the job with TROUPE_CHECKPOINT_TOLERANCE_EXCEEDED', async (t) => {
  t.timeout(60_000);
  const h = await start(t, { failWrite: 0, declineAt: [1, 2], hangAt: [], tolerable: 1 });
  await sleep(300);
  await nextCheckpoint(h);
  t.is(await status(h), 'running', 'one declined checkpoint is tolerated');
  h.timers.advance(1_000);
  const result = await h.cluster.result(h.jobId, 15_000);
  t.is(result.status, 'failed');
  t.is(result.error?.code, 'TROUPE_CHECKPOINT_TOLERANCE_EXCEEDED');
});
