/**
 * Throughput cost of periodic checkpoints (figures, never pass/fail): the `keyed` job (Nexmark q1 →
 * keyBy(auction) → running count in ValueState → discard, bench/jobs/nexmark-keyed-count.ts),
 * embedded at parallelism 2, without checkpoints and with a checkpoint every second on the heap
 * backend (full), the heap backend (incremental) and the sqlite backend (incremental); the sqlite
 * backend also runs without checkpoints, to tell its own cost from its checkpoints'.
 *
 *   npm run bench -- checkpoint-overhead [--events N] [--runs R]
 *
 * Configurations run interleaved, R runs each, every run in a fresh checkpoint directory (and, for
 * sqlite, a fresh database directory) under the OS temp dir, removed afterwards. Throughput is
 * events over the job's durationMs (cluster start and stop excluded, the same for all); the
 * checkpoints a run completed come from the JobManager's store (`<storage>/troupe-jobmanager.sqlite`).
 * "bytes" is what the store records per checkpoint: the state files it references, i.e. for an
 * incremental checkpoint the whole chain (full image + deltas), not only what it wrote. A run whose
 * job restarted (a task attempt above 0) is reported and left out of the medians.
 */
import { promises as fs } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { StreamExecutionEnvironment } from '../index.js';
import { loadJobModule } from '../api/cli/job-module.js';
import { JobManagerStore, type CheckpointRecord } from '../state/metadata-store.js';

const KEYED_JOB = nodePath.resolve(__dirname, '..', '..', 'bench', 'jobs', 'nexmark-keyed-count.ts');
const INTERVAL_MS = 1000;

/** 'none': the heap backend without checkpoints (the baseline); 'sqlite-none' separates the sqlite backend's own cost from its checkpoints'. */
type Config = 'none' | 'heap-full' | 'heap-incremental' | 'sqlite-none' | 'sqlite-incremental';
const CONFIGS: readonly Config[] = ['none', 'heap-full', 'heap-incremental', 'sqlite-none', 'sqlite-incremental'];
const checkpointed = (c: Config): boolean => c !== 'none' && c !== 'sqlite-none';

interface Run {
  readonly eventsPerSecond: number;
  readonly durationMs: number;
  readonly wallMs: number;
  /** Completed checkpoints (records of kind 'checkpoint', discarded or retained). */
  readonly checkpoints: readonly CheckpointRecord[];
  /** The highest task attempt number: > 0 when the job restarted (its events then ran more than once). */
  readonly attempt: number;
}

const fmt = (x: number): string => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${(x / 1e3).toFixed(1)} K`);
const kib = (bytes: number): string => (bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(2)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`);
const median = (xs: readonly number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const mean = (xs: readonly number[]): number => (xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length);

async function runOnce(job: Awaited<ReturnType<typeof loadJobModule>>, config: Config, events: number): Promise<Run> {
  const root = config === 'none' ? null : await fs.mkdtemp(nodePath.join(tmpdir(), 'troupe-bench-ckpt-overhead-'));
  try {
    const env = StreamExecutionEnvironment.create({ parallelism: 2 });
    await job(env, [String(events)]);
    if (root !== null && checkpointed(config)) env.enableCheckpointing(INTERVAL_MS).setCheckpointStorage(nodePath.join(root, 'checkpoints'));
    if (config === 'heap-full') env.setStateBackend('heap');
    else if (config === 'heap-incremental') env.setStateBackend('heap', { incremental: true });
    else if (root !== null && config.startsWith('sqlite')) {
      const dir = nodePath.join(root, 'sqlite'); // the backend does not create it
      await fs.mkdir(dir);
      env.setStateBackend('sqlite', { incremental: config === 'sqlite-incremental', dir });
    }
    const start = performance.now();
    const result = await env.execute(`checkpoint-overhead ${config}`);
    const wallMs = performance.now() - start;
    let checkpoints: CheckpointRecord[] = [];
    if (root !== null && checkpointed(config)) {
      const store = await JobManagerStore.open(nodePath.join(root, 'checkpoints', 'troupe-jobmanager.sqlite'));
      try {
        checkpoints = (await store.list(result.jobId)).filter((r) => r.kind === 'checkpoint');
      } finally {
        await store.close();
      }
    }
    const attempt = Math.max(...result.tasks.map((t) => Number(String(t.attemptId).split('@').at(-1))));
    return { eventsPerSecond: events / (result.durationMs / 1000), durationMs: result.durationMs, wallMs, checkpoints, attempt };
  } finally {
    if (root !== null) await fs.rm(root, { recursive: true, force: true });
  }
}

export async function checkpointOverhead(options: { events: number; runs: number }): Promise<void> {
  const { events, runs } = options;
  if (!Number.isSafeInteger(events) || events < 1000) throw new Error(`--events must be an integer >= 1000, got ${events}`);
  if (!Number.isSafeInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${runs}`);
  console.log(
    `Checkpoint overhead: Nexmark q1 -> keyBy(auction) -> running count, ${fmt(events)} events, parallelism 2 (embedded), checkpoints every ${INTERVAL_MS} ms; ${runs} run(s) per configuration, interleaved; Node ${process.version}; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`,
  );
  const job = await loadJobModule(KEYED_JOB);
  // warm-up: JIT of the pipeline and of the checkpoint paths of both backends
  const warm = Math.min(events, 1_000_000);
  for (const config of CONFIGS) await runOnce(job, config, warm);

  const byConfig = new Map<Config, Run[]>(CONFIGS.map((c) => [c, []]));
  for (let r = 1; r <= runs; r++) {
    for (const config of CONFIGS) {
      const run = await runOnce(job, config, events);
      if (run.attempt === 0) byConfig.get(config)!.push(run);
      const cps = run.checkpoints;
      const durations = cps.map((c) => c.completedAt - c.timestamp);
      const ck =
        !checkpointed(config)
          ? ''
          : cps.length === 0
            ? '  no checkpoint completed'
            : `  ${cps.length} checkpoints, avg ${kib(mean(cps.map((c) => c.bytes)))} referenced (last ${kib(cps.at(-1)?.bytes ?? 0)}), trigger→complete median ${median(durations).toFixed(0)} ms, max ${Math.max(...durations).toFixed(0)} ms`;
      console.log(`  run ${r} ${config.padEnd(18)} ${fmt(run.eventsPerSecond)} events/s  job ${(run.durationMs / 1000).toFixed(2)} s (wall ${(run.wallMs / 1000).toFixed(2)} s)${ck}`);
      if (run.attempt > 0) console.log(`    RESTARTED (task attempt ${run.attempt}): events ran more than once; not counted in the medians`);
      if (run.durationMs < 5000) console.log(`    (shorter than 5 s: raise --events for more checkpoints)`);
    }
  }

  const base = median(byConfig.get('none')!.map((r) => r.eventsPerSecond));
  const sqliteBase = median(byConfig.get('sqlite-none')!.map((r) => r.eventsPerSecond));
  console.log('  median over runs (ratio: vs the heap backend without checkpoints; sqlite incremental also vs sqlite without):');
  for (const config of CONFIGS) {
    const rs = byConfig.get(config)!;
    const eps = median(rs.map((r) => r.eventsPerSecond));
    const counts = rs.map((r) => r.checkpoints.length).join(', ');
    const all = rs.flatMap((r) => r.checkpoints);
    const extra = !checkpointed(config) ? '' : `  checkpoints per run ${counts}, avg ${kib(mean(all.map((c) => c.bytes)))} referenced`;
    const vsSqlite = config === 'sqlite-incremental' ? ` (vs sqlite-none ${(eps / sqliteBase).toFixed(3)})` : '';
    console.log(`    ${config.padEnd(18)} ${fmt(eps)} events/s  ratio ${(eps / base).toFixed(3)}${vsSqlite}  (${rs.length} run(s))${extra}`);
  }
  console.log(`  load average at the end ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
}
