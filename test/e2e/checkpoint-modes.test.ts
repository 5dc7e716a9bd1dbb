/**
 * Two input channels per keyed task (a parallel source): exactly-once aligns barriers, at-least-once
 * does not. Stopped by a failure and restored, exactly-once commits every record once with exact
 * per-key counts; at-least-once commits every record at least once. And a savepoint taken with
 * stop, moved to another directory, restores at another parallelism.
 */
import { mkdtempSync, renameSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { MiniCluster } from '../../actors/mini-cluster.js';
import type { CheckpointingMode } from '../../actors/job-master/checkpoint-coordinator.js';
import { StreamExecutionEnvironment } from '../../api/datastream/environment.js';
import type { Collector, KeyedProcessContext } from '../../api/datastream/functions.js';
import { FileSink, readCommittedJsonLines } from '../../api/datastream/sinks/file-sink.js';
import { hasCommittedOutput, latestCheckpoint } from '../helpers/checkpoint-job.js';

const N = 8_000;
const KEYS = 11;

interface Out {
  readonly k: number;
  readonly x: number;
  readonly n: number;
}

/** The job of every test here; `failOnce(x)` true makes the record fail the job (once per run). */
function build(env: StreamExecutionEnvironment, out: string, rate: number, failOnce: (x: number) => boolean = () => false): void {
  let failed = false;
  env
    .fromSequence(0, N - 1, { ratePerSecond: rate })
    .uid('source')
    .map((x) => {
      if (!failed && failOnce(x)) {
        failed = true;
        throw new Error(`stop at ${x}`);
      }
      return x;
    })
    .uid('maybe-fail')
    .keyBy((x) => x % KEYS)
    .process({
      processElement(x: number, ctx: KeyedProcessContext<number>, o: Collector<Out>): void {
        const count = ctx.runtime.getState<number>({ name: 'n' });
        count.update((count.value() ?? 0) + 1);
        o.collect({ k: ctx.getCurrentKey(), x, n: count.value()! });
      },
    })
    .uid('count')
    .sinkTo(FileSink.forJsonLines<Out>(out))
    .uid('out');
}

/** Every record committed once, with per-key counts 1..n (the keyed state was restored exactly). */
function assertExactlyOnce(t: ExecutionContext, lines: readonly Out[]): void {
  t.is(new Set(lines.map((l) => l.x)).size, N, 'every record');
  t.is(lines.length, N, 'none twice');
  for (let k = 0; k < KEYS; k++) {
    const ns = lines.filter((l) => l.k === k).map((l) => l.n).sort((a, b) => a - b);
    t.deepEqual(ns, Array.from({ length: ns.length }, (_, i) => i + 1), `key ${k}`);
  }
}

function work(t: ExecutionContext): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'troupe-modes-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function stopAndRestore(t: ExecutionContext, mode: CheckpointingMode): Promise<Out[]> {
  const dir = work(t);
  const out = path.join(dir, 'out');
  const checkpoints = path.join(dir, 'checkpoints');
  const first = StreamExecutionEnvironment.create({ parallelism: 2 });
  first.enableCheckpointing(50, { mode }).setCheckpointStorage(checkpoints).setRestartStrategy({ type: 'none' });
  build(first, out, 8_000, (x) => x > N / 3 && hasCommittedOutput(out));
  const error = await t.throwsAsync(first.execute('modes'));
  const jobId = String((error as { details?: { jobId?: unknown } }).details?.jobId);
  const second = StreamExecutionEnvironment.create({ parallelism: 2 });
  second.enableCheckpointing(50, { mode }).setCheckpointStorage(checkpoints).restoreFrom(latestCheckpoint(checkpoints, jobId));
  build(second, out, 8_000);
  await second.execute('modes');
  return readCommittedJsonLines<Out>(out);
}

test('modes - exactly-once with two channels per task: every record once, counts exact', async (t) => {
  t.timeout(60_000);
  assertExactlyOnce(t, await stopAndRestore(t, 'exactly-once'));
});

test('modes - at-least-once with two channels per task: every record at least once', async (t) => {
  t.timeout(60_000);
  const lines = await stopAndRestore(t, 'at-least-once');
  t.is(new Set(lines.map((l) => l.x)).size, N);
  t.true(lines.length >= N);
});

test('savepoint - taken with stop, moved to another directory, restored at parallelism 3: every record once', async (t) => {
  t.timeout(60_000);
  const dir = work(t);
  const out = path.join(dir, 'out');
  const cluster = await MiniCluster.start();
  t.teardown(() => cluster.close());
  const env = StreamExecutionEnvironment.create({ parallelism: 2 });
  env.enableCheckpointing(100).setCheckpointStorage(path.join(dir, 'checkpoints'));
  build(env, out, 2_000);
  const { graph, userCode } = env.build('savepoint');
  const jobId = await cluster.submit(graph, userCode);
  while ((await cluster.status(jobId)).status !== 'running') await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 500));
  const location = await cluster.dispatcher.ask({ type: 'trigger-savepoint', jobId, dir: path.join(dir, 'savepoints'), stop: true });
  t.is((await cluster.result(jobId, 15_000)).status, 'cancelled');
  const moved = path.join(dir, 'elsewhere', 'deeper');
  mkdirSync(moved, { recursive: true });
  const target = path.join(moved, path.basename(location));
  renameSync(location, target);
  const restored = StreamExecutionEnvironment.create({ parallelism: 3 });
  restored.restoreFrom(target);
  build(restored, out, 20_000);
  await restored.execute('restored');
  assertExactlyOnce(t, await readCommittedJsonLines<Out>(out));
});

test('savepoint - a failure after a savepoint (not stopped) restarts the job from that savepoint: every record once', async (t) => {
  t.timeout(60_000);
  const dir = work(t);
  const out = path.join(dir, 'out');
  const cluster = await MiniCluster.start();
  t.teardown(() => cluster.close());
  const env = StreamExecutionEnvironment.create({ parallelism: 2 });
  // no periodic checkpoint in the test's time: the savepoint is the only restore point
  env.enableCheckpointing(600_000).setCheckpointStorage(path.join(dir, 'checkpoints')).setRestartStrategy({ type: 'fixed-delay', attempts: 2, delayMs: 100 });
  let savepointTaken = false;
  build(env, out, 4_000, () => savepointTaken);
  const { graph, userCode } = env.build('savepoint-restart');
  const jobId = await cluster.submit(graph, userCode);
  while ((await cluster.status(jobId)).status !== 'running') await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 300));
  await cluster.dispatcher.ask({ type: 'trigger-savepoint', jobId, dir: path.join(dir, 'savepoints'), stop: false });
  savepointTaken = true;
  const result = await cluster.result(jobId, 30_000);
  t.is(result.status, 'finished', JSON.stringify(result.error));
  t.is(result.tasks.some((task) => task.attemptId.endsWith('@1')), true, 'the job restarted');
  assertExactlyOnce(t, await readCommittedJsonLines<Out>(out));
});
