/**
 * Failures on a forked cluster: a TaskExecutor killed (its exit is seen at once), a TaskExecutor
 * stopped (only the heartbeats can tell), and a job module that fails only where a TaskExecutor
 * rebuilds it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test, { type ExecutionContext } from 'ava';
import { startJobManager, type RunningJobManager } from '../../actors/cluster/job-manager.js';
import type { JobStatus } from '../../actors/protocol/job-status.js';
import { bundleJobModule } from '../../api/cli/job-module.js';
import type { OverviewDto } from '../../api/rest/dto.js';
import { RestClient } from '../../api/rest/rest-client.js';
import { parseClusterConfig } from '../../cluster-config/cluster-config.js';
import type { JobId } from '../../core/ids.js';
import { signalQuietly, submit } from '../helpers/cluster.js';

const fixture = (...parts: string[]): string => path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'cluster', ...parts);

const HEARTBEAT = { intervalMs: 200, timeoutMs: 1000 };

interface Cluster {
  readonly jm: RunningJobManager;
  readonly client: RestClient;
  readonly overview: OverviewDto;
  close(): Promise<void>;
}

async function launch(json: Record<string, unknown>): Promise<Cluster> {
  const workDir = mkdtempSync(path.join(tmpdir(), 'troupe-failure-test-'));
  const config = parseClusterConfig({ mode: 'forked', jobmanager: { rpcPort: 0, restPort: 0 }, taskExecutors: [{ count: 2, slots: 2 }], workDir, ...json }, {});
  // a TaskExecutor loads the runtime at start (installJobRuntime), so its first deployment does
  // not stall its heartbeats even with a 1000 ms timeout
  const jm = await startJobManager(config);
  const client = new RestClient(jm.restUrl);
  const overview = await client.overview();
  const close = async (): Promise<void> => {
    // a stopped process takes no signal but SIGKILL; continue it first so that it can go its own way
    for (const e of overview.executors) signalQuietly(e.pid!, 'SIGCONT');
    await jm.close();
    for (const e of overview.executors) signalQuietly(e.pid!, 'SIGKILL');
    rmSync(workDir, { recursive: true, force: true });
  };
  return { jm, client, overview, close };
}

async function startCluster(t: ExecutionContext, json: Record<string, unknown> = {}): Promise<Cluster> {
  const cluster = await launch(json);
  t.teardown(() => cluster.close());
  return cluster;
}

/** Polls the Dispatcher's job list (never the JobMaster) until the job's status satisfies `done`. */
async function waitForStatus(client: RestClient, jobId: JobId, done: (s: JobStatus) => boolean, timeoutMs = 30_000): Promise<JobStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = (await client.listJobs()).find((j) => j.id === jobId)?.status;
    if (status !== undefined && done(status)) return status;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${status ?? 'unknown'} after ${timeoutMs} ms`);
    await sleep(10);
  }
}

// esbuild's service starts with the first bundle; start it before any cluster runs
test.before(async () => {
  await bundleJobModule(fixture('long-running.ts'), { ship: true });
});

const failed = (s: JobStatus): boolean => s === 'failed';

test.serial('failure - SIGKILL of a TaskExecutor fails the running job with TROUPE_TASK_EXECUTOR_LOST naming it, within 3 s', async (t) => {
  t.timeout(60_000);
  const { client, overview } = await startCluster(t, { heartbeat: HEARTBEAT });
  // ~20 s of records at 10,000/s
  const jobId = await submit(client, fixture('long-running.ts'), 4, ['200000', '10000']);
  t.is(await waitForStatus(client, jobId, (s) => s !== 'created'), 'running');
  await sleep(500);
  const victim = overview.executors.find((e) => e.id === 'te-1')!;

  const killedAt = Date.now();
  process.kill(victim.pid!, 'SIGKILL');
  await waitForStatus(client, jobId, failed);
  const failedAfter = Date.now() - killedAt;
  const result = await client.waitForResult(jobId, { pollMs: 20, timeoutMs: 30_000 });
  const resultAfter = Date.now() - killedAt;
  t.log(`job failed ${failedAfter} ms after the SIGKILL, its result came after ${resultAfter} ms`);

  t.is(result.status, 'failed');
  t.is(result.error?.code, 'TROUPE_TASK_EXECUTOR_LOST', JSON.stringify(result.error));
  t.regex(result.error?.message ?? '', /TaskExecutor te-1\b/);
  t.true(resultAfter < 3_000, `result ${resultAfter} ms after the SIGKILL`);
  // the ResourceManager dropped it; the other one is still there
  const after = await client.overview();
  t.deepEqual(
    after.executors.map((e) => e.id),
    ['te-0'],
  );
});

test.serial('failure - a SIGSTOPped TaskExecutor fails the running job with TROUPE_TASK_EXECUTOR_LOST after about the heartbeat timeout', async (t) => {
  t.timeout(60_000);
  const { client, overview } = await startCluster(t, { heartbeat: HEARTBEAT });
  const jobId = await submit(client, fixture('long-running.ts'), 4, ['200000', '10000']);
  t.is(await waitForStatus(client, jobId, (s) => s !== 'created'), 'running');
  await sleep(500);
  const victim = overview.executors.find((e) => e.id === 'te-0')!;

  const stoppedAt = Date.now();
  process.kill(victim.pid!, 'SIGSTOP'); // no exit event: only the heartbeats can notice
  await waitForStatus(client, jobId, failed);
  const failedAfter = Date.now() - stoppedAt;
  const result = await client.waitForResult(jobId, { pollMs: 20, timeoutMs: 30_000 });
  const resultAfter = Date.now() - stoppedAt;
  t.log(`job failed ${failedAfter} ms after the SIGSTOP, its result came after ${resultAfter} ms`);

  t.is(result.status, 'failed');
  t.is(result.error?.code, 'TROUPE_TASK_EXECUTOR_LOST', JSON.stringify(result.error));
  t.regex(result.error?.message ?? '', /TaskExecutor te-0\b.*no heartbeat/);
  // its last heartbeat answered a request at most one interval (+ one tick of interval / 2, + lag)
  // before the stop; the timeout runs from there, is noticed at a tick, and the JobMaster fails the job
  t.true(failedAfter >= HEARTBEAT.timeoutMs - 2 * HEARTBEAT.intervalMs, `failed already ${failedAfter} ms after the SIGSTOP`);
  t.true(failedAfter <= HEARTBEAT.timeoutMs + 1_000, `failed only ${failedAfter} ms after the SIGSTOP`);
  // the result (what waitForResult and `troupe run` wait for) comes ~5 s later: the JobMaster waits
  // for the lost TaskExecutor to answer release-job until the launcher's SIGKILL, 5 s after its
  // SIGTERM, closes the connection (see the report)
  t.true(resultAfter <= HEARTBEAT.timeoutMs + 5_000 + 3_000, `result only ${resultAfter} ms after the SIGSTOP`);
});

test.serial('failure - a job module that throws only while a TaskExecutor rebuilds it fails with TROUPE_INVALID_JOB_MODULE', async (t) => {
  t.timeout(60_000);
  const { client } = await startCluster(t);
  // the client builds the graph fine: the module throws only where process.title names a TaskExecutor
  const jobId = await submit(client, fixture('throws-on-taskexecutor.js'), 2);
  const result = await client.waitForResult(jobId, { timeoutMs: 30_000 });
  t.is(result.status, 'failed');
  t.is(result.error?.code, 'TROUPE_INVALID_JOB_MODULE', JSON.stringify(result.error));
  t.regex(result.error?.message ?? '', /throws-on-taskexecutor\.js.*no configuration on troupe-taskexecutor te-\d/);
});

interface KeyTotal {
  key: string;
  count: number;
  sum: number;
}

test.serial('failure - after a job module failed on the TaskExecutors the same cluster runs the next job to the exact result', async (t) => {
  t.timeout(60_000);
  const { client, overview } = await startCluster(t);
  const bad = await submit(client, fixture('throws-on-taskexecutor.js'), 4);
  t.is((await client.waitForResult(bad, { timeoutMs: 30_000 })).status, 'failed');

  const after = await client.overview();
  t.deepEqual(after.executors, overview.executors, 'the same TaskExecutor processes');
  t.is(after.slotsFree, 4, 'every slot was given back');

  // keyed-count over 0..999 with key k<i % 4>: 250 records per key, sum 4 * (0 + ... + 249) + 250 r
  const good = await submit(client, fixture('keyed-count.ts'), 4, ['1000', '4']);
  const result = await client.waitForResult(good, { timeoutMs: 30_000 });
  t.is(result.status, 'finished', JSON.stringify(result.error));
  const records = (Object.values(result.collected)[0] ?? []) as KeyTotal[];
  t.is(records.length, 1000);
  const final = new Map<string, KeyTotal>();
  for (const r of records) final.set(r.key, r);
  t.deepEqual(Object.fromEntries([...final].sort().map(([k, r]) => [k, [r.count, r.sum]])), {
    k0: [250, 124_500],
    k1: [250, 124_750],
    k2: [250, 125_000],
    k3: [250, 125_250],
  });
});
