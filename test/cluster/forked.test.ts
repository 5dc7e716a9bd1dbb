/**
 * A cluster whose TaskExecutors run in child processes (`forked`) or worker threads (`threaded`):
 * exact results of a keyed job, the TaskExecutor processes' lifetime, two jobs with conflicting
 * dependency versions side by side, and backpressure across processes.
 *
 * Jobs are shipped the way `troupe run --cluster` ships them, and `collected` is polled from right
 * after submission, as `--collect` does.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test, { type ExecutionContext } from 'ava';
import { startJobManager, type RunningJobManager } from '../../actors/cluster/job-manager.js';
import type { TaskMetrics } from '../../actors/protocol/job-status.js';
import type { OverviewDto } from '../../api/rest/dto.js';
import { RestClient } from '../../api/rest/rest-client.js';
import { parseClusterConfig } from '../../cluster-config/cluster-config.js';
import { collectAll, submit, waitUntilDeployed } from '../helpers/cluster.js';

const fixture = (...parts: string[]): string => path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'cluster', ...parts);

interface Cluster {
  readonly jm: RunningJobManager;
  readonly client: RestClient;
  readonly overview: OverviewDto;
}

async function launch(json: Record<string, unknown>): Promise<Cluster & { close(): Promise<void> }> {
  const workDir = mkdtempSync(path.join(tmpdir(), 'troupe-forked-test-'));
  const config = parseClusterConfig({ jobmanager: { rpcPort: 0, restPort: 0 }, workDir, ...json }, {});
  const jm = await startJobManager(config);
  const client = new RestClient(jm.restUrl);
  const overview = await client.overview();
  const close = async (): Promise<void> => {
    await jm.close();
    for (const e of overview.executors) if (e.pid !== undefined && e.pid !== process.pid) killQuietly(e.pid);
    rmSync(workDir, { recursive: true, force: true });
  };
  return { jm, client, overview, close };
}

/** A cluster of the test's own; its teardown closes it and kills whatever is left. */
async function startCluster(t: ExecutionContext, json: Record<string, unknown>): Promise<Cluster> {
  const cluster = await launch(json);
  t.teardown(() => cluster.close());
  return cluster;
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What `ps -o args=` shows: /proc/<pid>/cmdline, NULs as spaces, trimmed. */
function commandLine(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+/g, ' ').trim();
}

interface KeyTotal {
  key: string;
  count: number;
  sum: number;
}

const N = 10_000;
const KEYS = 10;

/**
 * keyed-count.ts over 0..9999 with key k<i % 10>: each key gets 1000 records i = 10j + r
 * (j = 0..999), so its count runs 1, 2, ..., 1000 and its sum ends at
 * 10 * (0 + 1 + ... + 999) + 1000 r = 4,995,000 + 1000 r.
 */
const FINAL_SUMS: Record<string, number> = {
  k0: 4_995_000,
  k1: 4_996_000,
  k2: 4_997_000,
  k3: 4_998_000,
  k4: 4_999_000,
  k5: 5_000_000,
  k6: 5_001_000,
  k7: 5_002_000,
  k8: 5_003_000,
  k9: 5_004_000,
};

/** Every rolling update is there: per key, counts 1..1000 in order, the last carrying the final sum. */
function assertKeyedTotals(t: ExecutionContext, records: readonly unknown[]): void {
  t.is(records.length, N);
  const counts = new Map<string, number[]>();
  const last = new Map<string, number>();
  for (const r of records as KeyTotal[]) {
    const list = counts.get(r.key) ?? [];
    list.push(r.count);
    counts.set(r.key, list);
    last.set(r.key, r.sum);
  }
  const oneToThousand = Array.from({ length: N / KEYS }, (_, i) => i + 1);
  t.deepEqual([...counts.keys()].sort(), Object.keys(FINAL_SUMS));
  for (const [key, list] of counts) t.deepEqual(list, oneToThousand, `counts of ${key}`);
  t.deepEqual(Object.fromEntries([...last].sort()), FINAL_SUMS);
}

const FORKED = { mode: 'forked', taskExecutors: [{ count: 2, slots: 2 }] };

/** The forked cluster the tests share that do not stop it or need another configuration; each leaves no job running. */
let shared: (Cluster & { close(): Promise<void> }) | undefined;
test.before(async () => {
  shared = await launch(FORKED);
});
test.after.always(async () => {
  await shared?.close();
});
const forked = (): Cluster => shared!;

test.serial('forked - a keyed job at parallelism 4 on 2 TaskExecutors x 2 slots yields exactly the hand-computed totals, through collect and waitForResult alike', async (t) => {
  t.timeout(60_000);
  const { client } = forked();
  const jobId = await submit(client, fixture('keyed-count.ts'), 4, [String(N), String(KEYS)]);
  const streamed = await collectAll(client, jobId);
  const result = await client.waitForResult(jobId);
  t.is(result.status, 'finished', JSON.stringify(result.error));
  assertKeyedTotals(t, streamed);
  const collected = Object.values(result.collected);
  t.is(collected.length, 1);
  t.deepEqual(collected[0], streamed);
});

test.serial('forked - the TaskExecutors are child processes titled troupe-taskexecutor te-0 and te-1', async (t) => {
  const { overview } = forked();
  const executors = [...overview.executors].sort((a, b) => a.id.localeCompare(b.id));
  t.deepEqual(
    executors.map((e) => [e.id, e.slots]),
    [
      ['te-0', 2],
      ['te-1', 2],
    ],
  );
  for (const e of executors) {
    t.true(e.pid !== undefined && e.pid !== process.pid, `${e.id} has its own pid`);
    t.is(commandLine(e.pid!), `troupe-taskexecutor ${e.id}`);
  }
});

test.serial('forked - the TaskExecutor processes are gone once the JobManager closed', async (t) => {
  const { jm, overview } = await startCluster(t, FORKED);
  const pids = overview.executors.map((e) => e.pid!);
  t.is(pids.length, 2);
  t.true(pids.every(alive));
  await jm.close();
  // close() waits for every child's exit event; allow a moment for the kernel to reap
  const deadline = Date.now() + 2_000;
  while (pids.some(alive) && Date.now() < deadline) await sleep(20);
  t.deepEqual(
    pids.filter(alive).map((pid) => `${pid} ${existsSync(`/proc/${pid}`) ? commandLine(pid) : ''}`),
    [],
  );
});

test.serial('threaded - the same keyed job yields the same exact totals with TaskExecutors in worker threads', async (t) => {
  t.timeout(60_000);
  const { client, overview } = await startCluster(t, { mode: 'threaded', taskExecutors: [{ count: 2, slots: 2 }] });
  t.is(overview.taskExecutors, 2);
  const jobId = await submit(client, fixture('keyed-count.ts'), 4, [String(N), String(KEYS)]);
  const streamed = await collectAll(client, jobId);
  const result = await client.waitForResult(jobId);
  t.is(result.status, 'finished', JSON.stringify(result.error));
  assertKeyedTotals(t, streamed);
  t.deepEqual(Object.values(result.collected)[0], streamed);
});

interface Versioned {
  i: number;
  version: string;
  value: number;
  ranIn: string;
}

test.serial('forked - two jobs bundling conflicting versions of one dependency run side by side, each on its own version', async (t) => {
  t.timeout(60_000);
  const { client } = forked();
  // 200 records at 100/s: both jobs run for about 2 s, overlapping
  const v1 = await submit(client, fixture('dep-v1', 'job.ts'), 2, ['200', '100']);
  const v2 = await submit(client, fixture('dep-v2', 'job.ts'), 2, ['200', '100']);
  await Promise.all([waitUntilDeployed(client, v1), waitUntilDeployed(client, v2)]);
  const running = (await client.listJobs()).filter((j) => j.id === v1 || j.id === v2).map((j) => j.status);
  t.deepEqual(running, ['running', 'running'], 'both jobs run at once');
  const [r1, r2] = await Promise.all([client.waitForResult(v1), client.waitForResult(v2)]);
  t.is(r1.status, 'finished', JSON.stringify(r1.error));
  t.is(r2.status, 'finished', JSON.stringify(r2.error));
  const out1 = (Object.values(r1.collected)[0] ?? []) as Versioned[];
  const out2 = (Object.values(r2.collected)[0] ?? []) as Versioned[];
  const byI = (a: Versioned, b: Versioned): number => a.i - b.i;
  const oneTo200 = Array.from({ length: 200 }, (_, k) => k + 1);
  t.deepEqual(
    out1.sort(byI).map(({ i, version, value }) => ({ i, version, value })),
    oneTo200.map((i) => ({ i, version: '1.0.0', value: i + 1000 })),
  );
  t.deepEqual(
    out2.sort(byI).map(({ i, version, value }) => ({ i, version, value })),
    oneTo200.map((i) => ({ i, version: '2.0.0', value: -2 * i })),
  );
  // the dependency ran inside the TaskExecutor processes, not in the client
  t.deepEqual([...new Set([...out1, ...out2].map((r) => r.ranIn))].sort(), ['troupe-taskexecutor te-0', 'troupe-taskexecutor te-1']);
});

function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

test.serial('forked - a fast source into a slow sink across processes is backpressured with bounded buffers and flat memory', async (t) => {
  t.timeout(60_000);
  const { jm, client, overview } = forked();
  const pids = overview.executors.map((e) => e.pid!);
  // the sink sleeps 1 ms per record; 1000-byte records keep the sink's slices short (see slow-sink.ts)
  const jobId = await submit(client, fixture('slow-sink.ts'), 4, ['1', '1000']);
  t.is(await waitUntilDeployed(client, jobId), 'running');
  await sleep(1_000); // let the pipeline fill up

  // for 10 s: TaskExecutor RSS every 250 ms, and task metrics as fast as the Dispatcher answers
  // (a TaskExecutor whose sinks sleep answers in a few hundred ms)
  const WINDOW_MS = 10_000;
  const end = Date.now() + WINDOW_MS;
  const rss: number[][] = [];
  const metrics: TaskMetrics[][] = [];
  await Promise.all([
    (async () => {
      while (Date.now() < end) {
        rss.push(pids.map(rssKiB));
        await sleep(250);
      }
    })(),
    (async () => {
      while (Date.now() < end) {
        metrics.push(await jm.dispatcher.ask({ type: 'job-metrics', jobId }, 10_000));
        await sleep(100);
      }
    })(),
  ]);
  await client.cancelJob(jobId);
  const result = await client.waitForResult(jobId, { timeoutMs: 20_000 });
  t.is(result.status, 'cancelled');
  t.true(metrics.length >= 6, `${metrics.length} metrics samples`);

  const sources = (m: readonly TaskMetrics[]): TaskMetrics[] => m.filter((x) => x.vertex.startsWith('source'));
  const sinks = (m: readonly TaskMetrics[]): TaskMetrics[] => m.filter((x) => !x.vertex.startsWith('source'));
  const first = metrics[0]!;
  const last = metrics[metrics.length - 1]!;
  t.is(sources(first).length, 4);
  t.is(sinks(first).length, 4);
  t.true(last.every((m) => m.state === 'running'));

  // the sinks are the bottleneck (at most ~1000 records/s each), and the sources follow them
  const sinkIn = (m: readonly TaskMetrics[]): number => sinks(m).reduce((n, x) => n + x.recordsIn, 0);
  const sourceOut = (m: readonly TaskMetrics[]): number => sources(m).reduce((n, x) => n + x.recordsOut, 0);
  const seconds = (sources(last)[0]!.wallMs - sources(first)[0]!.wallMs) / 1000;
  const sinkRate = (sinkIn(last) - sinkIn(first)) / seconds;
  const sourceRate = (sourceOut(last) - sourceOut(first)) / seconds;
  t.log(`over ${seconds.toFixed(1)} s: sources ${Math.round(sourceRate)} records/s, sinks ${Math.round(sinkRate)} records/s`);
  t.true(sinkRate > 50 && sinkRate < 4 * 1000 * 1.1, `sink rate ${sinkRate}`);
  t.true(sourceRate < 4 * 1000 * 1.5, `source rate ${sourceRate} (unthrottled it would be ~1,000,000/s)`);

  // each source spends most of the window waiting for credit
  for (const m of sources(last)) {
    const before = sources(first).find((f) => f.attemptId === m.attemptId)!;
    const ratio = (m.backpressuredMs - before.backpressuredMs) / (m.wallMs - before.wallMs);
    t.log(`${m.attemptId} backpressured ${(ratio * 100).toFixed(0)}% of the window (${(m.backpressuredRatio * 100).toFixed(0)}% overall)`);
    t.true(ratio > 0.5, `${m.attemptId} backpressured only ${ratio.toFixed(2)} of the window`);
  }

  // buffers in flight stay bounded: they do not grow with the records produced
  const inFlight = metrics.map((m) => m.reduce((n, x) => n + x.buffersInFlight, 0));
  t.log(`buffers in flight (all 8 tasks): ${inFlight.join(' ')}`);
  t.true(Math.max(...inFlight) <= 200, `at most ${Math.max(...inFlight)} buffers in flight`);
  const third = (xs: readonly number[], i: number): number[] => xs.slice(Math.floor((xs.length * i) / 3), Math.floor((xs.length * (i + 1)) / 3));
  t.true(mean(third(inFlight, 2)) <= mean(third(inFlight, 1)) * 1.5 + 8, 'buffers in flight do not keep growing');

  // TaskExecutor memory is flat: the last third of the window is not above the middle third (+ noise)
  pids.forEach((pid, p) => {
    const series = rss.map((s) => s[p]!);
    const middle = mean(third(series, 1));
    const late = mean(third(series, 2));
    t.log(`TaskExecutor pid ${pid}: RSS middle third ${(middle / 1024).toFixed(1)} MiB, last third ${(late / 1024).toFixed(1)} MiB, max ${(Math.max(...series) / 1024).toFixed(1)} MiB`);
    t.true(late <= middle * 1.15 + 16 * 1024, `RSS of ${pid} grew from ${middle} KiB to ${late} KiB`);
  });
});
