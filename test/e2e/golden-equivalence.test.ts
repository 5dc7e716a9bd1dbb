/**
 * Golden equivalence: the same job, run three ways, commits the same output — straight; with
 * checkpoints, stopped by a failure and restored from its latest checkpoint; and restored at another
 * parallelism. Keyed state (value and map) and a 2PC file sink; one source, so every key sees its
 * records in one order and the output is deterministic.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { StreamExecutionEnvironment } from '../../api/datastream/environment.js';
import { FileSink, readCommittedJsonLines } from '../../api/datastream/sinks/file-sink.js';
import type { Collector, KeyedProcessContext } from '../../api/datastream/functions.js';
import { TroupeError } from '../../core/errors.js';
import type { StateBackendKind } from '../../state/backend.js';

const N = 12_000;
const KEYS = 13;

interface Out {
  k: number;
  n: number;
  sum: number;
  distinctMod: number;
}

interface RunOptions {
  readonly parallelism: number;
  readonly out: string;
  readonly checkpoints?: string;
  readonly failAt?: number;
  readonly restoreFrom?: string;
  readonly backend?: StateBackendKind;
  readonly incremental?: boolean;
}

async function run(o: RunOptions): Promise<void> {
  const env = StreamExecutionEnvironment.create({ parallelism: o.parallelism });
  if (o.checkpoints !== undefined) env.enableCheckpointing(40).setCheckpointStorage(o.checkpoints).setRestartStrategy({ type: 'none' });
  if (o.backend !== undefined) env.setStateBackend(o.backend, { incremental: o.incremental === true, materializeEvery: 3 });
  if (o.restoreFrom !== undefined) env.restoreFrom(o.restoreFrom);
  const failAt = o.failAt;
  env
    .fromSequence(0, N - 1, { ratePerSecond: 15_000 })
    .setParallelism(1)
    .uid('source')
    .map((x) => {
      if (x === failAt) throw new Error(`stop at ${x}`);
      return x;
    })
    .setParallelism(1)
    .uid('maybe-fail')
    .keyBy((x) => x % KEYS)
    .process({
      processElement(x: number, ctx: KeyedProcessContext<number>, out: Collector<Out>): void {
        const count = ctx.runtime.getState<number>({ name: 'count' });
        const sum = ctx.runtime.getState<number>({ name: 'sum' });
        const mods = ctx.runtime.getMapState<number, number>({ name: 'mods' });
        const n = (count.value() ?? 0) + 1;
        count.update(n);
        sum.update((sum.value() ?? 0) + x);
        mods.put(x % 7, (mods.get(x % 7) ?? 0) + 1);
        out.collect({ k: ctx.getCurrentKey(), n, sum: sum.value()!, distinctMod: mods.keys().length });
      },
    })
    .uid('state')
    .sinkTo(FileSink.forJsonLines<Out>(o.out), 'Files')
    .uid('files');
  await env.execute('golden');
}

const sorted = (lines: Out[]): string[] => lines.map((l) => JSON.stringify(l)).sort();

function latestCheckpoint(root: string, jobId: string): string {
  const dir = path.join(root, jobId);
  const ids = readdirSync(dir)
    .filter((d) => /^chk-\d+$/.test(d) && existsSync(path.join(dir, d, '_metadata')))
    .map((d) => Number(d.slice(4)));
  if (ids.length === 0) throw new Error(`no completed checkpoint under ${dir}`);
  return path.join(dir, `chk-${Math.max(...ids)}`);
}

/** Runs with checkpoints until the failure at `failAt`, then restores from the latest checkpoint. */
async function stopAndRestore(work: string, name: string, first: number, second: number, backend: StateBackendKind, incremental: boolean): Promise<Out[]> {
  const out = path.join(work, name);
  const checkpoints = path.join(work, `${name}-checkpoints`);
  const error = await run({ parallelism: first, out, checkpoints, failAt: Math.floor(N * 0.6), backend, incremental }).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof TroupeError)) throw new Error(`the first run should fail, got ${String(error)}`);
  const jobId = String(error.details?.jobId);
  await run({ parallelism: second, out, checkpoints, restoreFrom: latestCheckpoint(checkpoints, jobId), backend, incremental });
  return readCommittedJsonLines<Out>(out);
}

const expected = (() => {
  const lines: Out[] = [];
  const count = new Map<number, number>();
  const sum = new Map<number, number>();
  const mods = new Map<number, Set<number>>();
  for (let x = 0; x < N; x++) {
    const k = x % KEYS;
    count.set(k, (count.get(k) ?? 0) + 1);
    sum.set(k, (sum.get(k) ?? 0) + x);
    const m = mods.get(k) ?? new Set<number>();
    m.add(x % 7);
    mods.set(k, m);
    lines.push({ k, n: count.get(k)!, sum: sum.get(k)!, distinctMod: m.size });
  }
  return sorted(lines);
})();

for (const [backend, incremental] of [
  ['heap', false],
  ['heap', true],
  ['sqlite', true],
] as const) {
  test(`golden - ${backend}${incremental ? ' incremental' : ''}: straight, stopped and restored, and restored at another parallelism commit identical output`, async (t) => {
    t.timeout(90_000);
    const work = mkdtempSync(path.join(tmpdir(), 'troupe-golden-'));
    t.teardown(() => rmSync(work, { recursive: true, force: true }));
    const straightOut = path.join(work, 'straight');
    await run({ parallelism: 2, out: straightOut, backend, incremental });
    const straight = sorted(await readCommittedJsonLines<Out>(straightOut));
    t.is(straight.length, N);
    t.deepEqual(straight, expected, 'the straight run computes the expected output');
    t.deepEqual(sorted(await stopAndRestore(work, 'restored', 2, 2, backend, incremental)), straight, 'stop and restore at the same parallelism');
    t.deepEqual(sorted(await stopAndRestore(work, 'rescaled', 2, 3, backend, incremental)), straight, 'restore at parallelism 3');
  });
}
