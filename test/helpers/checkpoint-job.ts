/** A keyed job with a 2PC file sink that checkpoints, fails on request and restores: shared by the checkpoint tests. */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { StreamExecutionEnvironment } from '../../api/datastream/environment.js';
import { FileSink } from '../../api/datastream/sinks/file-sink.js';
import type { Collector, KeyedProcessContext } from '../../api/datastream/functions.js';
import type { StateBackendKind } from '../../state/backend.js';

export const N = 8_000;
export const KEYS = 13;

export interface Out {
  k: number;
  n: number;
  sum: number;
  distinctMod: number;
}

export interface RunOptions {
  readonly parallelism: number;
  readonly out: string;
  readonly checkpoints?: string;
  /** Fail at the first record from this one on that finds a completed checkpoint (its commit is visible), so there is one to restore. */
  readonly failAt?: number;
  readonly restoreFrom?: string;
  readonly backend?: StateBackendKind;
  readonly incremental?: boolean;
  readonly allowNonRestoredState?: boolean;
  /** Operator uid of the keyed operator (default 'state'). */
  readonly stateUid?: string;
}

export async function run(o: RunOptions): Promise<void> {
  const env = StreamExecutionEnvironment.create({ parallelism: o.parallelism });
  if (o.checkpoints !== undefined) env.enableCheckpointing(50).setCheckpointStorage(o.checkpoints).setRestartStrategy({ type: 'none' });
  if (o.backend !== undefined) env.setStateBackend(o.backend, { incremental: o.incremental === true, materializeEvery: 3 });
  if (o.restoreFrom !== undefined) env.restoreFrom(o.restoreFrom, { allowNonRestoredState: o.allowNonRestoredState === true });
  const failAt = o.failAt ?? Infinity;
  const checkpoints = o.checkpoints;
  let stopped = false;
  const completedOne = (): boolean => checkpoints !== undefined && hasCommittedOutput(o.out);
  env
    .fromSequence(0, N - 1, { ratePerSecond: 6_000 })
    .setParallelism(1)
    .uid('source')
    .map((x) => {
      if (x >= failAt && !stopped && completedOne()) {
        stopped = true;
        throw new Error(`stop at ${x}`);
      }
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
    .uid(o.stateUid ?? 'state')
    .sinkTo(FileSink.forJsonLines<Out>(o.out), 'Files')
    .uid('files');
  await env.execute('golden');
}

export const sorted = (lines: Out[]): string[] => lines.map((l) => JSON.stringify(l)).sort();

/**
 * A checkpoint was announced complete: the file sink committed a part file. (A `_metadata` file
 * alone is not enough: a checkpoint still being stored when the job fails is discarded.)
 */
export function hasCommittedOutput(out: string): boolean {
  return existsSync(out) && readdirSync(out).some((f) => !f.startsWith('.'));
}

export function latestCheckpoint(root: string, jobId: string): string {
  const dir = path.join(root, jobId);
  const ids = readdirSync(dir)
    .filter((d) => /^chk-\d+$/.test(d) && existsSync(path.join(dir, d, '_metadata')))
    .map((d) => Number(d.slice(4)));
  if (ids.length === 0) throw new Error(`no completed checkpoint under ${dir} (it holds ${readdirSync(dir).join(", ")})`);
  return path.join(dir, `chk-${Math.max(...ids)}`);
}


/** Runs with checkpoints until a failure at 60 % of the input; returns the job id and its latest checkpoint directory. */
export async function runUntilFailure(o: Omit<RunOptions, 'failAt' | 'checkpoints'> & { readonly checkpoints: string }): Promise<{ jobId: string; checkpoint: string }> {
  const error = await run({ ...o, failAt: Math.floor(N * 0.6) }).then(
    () => undefined,
    (e: unknown) => e,
  );
  const jobId = (error as { details?: { jobId?: unknown } } | undefined)?.details?.jobId;
  if (typeof jobId !== 'string') throw new Error(`the run should fail with a job error, got ${String(error)}`);
  return { jobId, checkpoint: latestCheckpoint(o.checkpoints, jobId) };
}
