/**
 * Savepoints end to end through the `troupe` command line (child processes of
 * `node dist/api/cli/troupe.js`) against a JobManager with REST in this process: a checkpointed
 * keyed job runs at parallelism 2, `troupe savepoint --stop` takes a savepoint and cancels it,
 * `troupe run --from-savepoint` resumes it at parallelism 3 on the cluster and at 1 embedded, and
 * each resumed run ends with exactly the totals of a straight run. A path without a savepoint is
 * TROUPE_CHECKPOINT_NOT_FOUND and exit code 2, on the cluster and embedded.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { startJobManager, type RunningJobManager } from '../../actors/cluster/job-manager.js';
import type { JobId } from '../../core/ids.js';
import type { CheckpointsDto } from '../../api/rest/dto.js';
import { RestClient } from '../../api/rest/rest-client.js';
import { parseClusterConfig } from '../../cluster-config/cluster-config.js';
import { submit } from '../helpers/cluster.js';

const REPO = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(REPO, 'dist', 'api', 'cli', 'troupe.js');
const JOB = path.join(REPO, 'test', 'fixtures', 'savepoint', 'keyed-sum.ts');
const N = 3000;
const KEYS = 7;
/** The first run is slow so that it is still running when the savepoint CLI gets to it, even on a busy machine. */
const FIRST_RATE = 200;
const RATE = 1500;

interface KeySum {
  readonly key: string;
  readonly count: number;
  readonly sum: number;
}

interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const root = mkdtempSync(path.join(tmpdir(), 'troupe-savepoint-test-'));
const checkpoints = path.join(root, 'checkpoints');
const jobArgs = [checkpoints, String(N), String(KEYS), String(RATE)];
const firstArgs = [checkpoints, String(N), String(KEYS), String(FIRST_RATE)];
let jm: RunningJobManager | undefined;

test.before(async () => {
  const config = parseClusterConfig({ name: 'savepoints', mode: 'embedded', taskExecutors: [{ slots: 4 }], jobmanager: { rpcPort: 0, restPort: 0 }, workDir: path.join(root, 'work') }, {});
  jm = await startJobManager(config);
});

test.after.always(async () => {
  await jm?.close();
  rmSync(root, { recursive: true, force: true });
});

function cluster(): { address: string; client: RestClient } {
  if (jm === undefined) throw new Error('the JobManager did not start');
  return { address: jm.restUrl, client: new RestClient(jm.restUrl) };
}

function troupe(args: string[], timeoutMs = 45_000): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: REPO, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : null;
      resolve({ code, stdout, stderr });
    });
  });
}

const show = (r: Result): string => `exit ${String(r.code)}\nstdout:\n${r.stdout.slice(-2000)}\nstderr:\n${r.stderr.slice(-4000)}`;

type Totals = Record<string, { count: number; sum: number }>;

const byKey = (totals: Map<string, { count: number; sum: number }>): Totals => Object.fromEntries([...totals].sort(([a], [b]) => a.localeCompare(b)));

/** What a straight run ends with: per key, the number of elements and their sum. */
function expectedTotals(): Totals {
  const totals = new Map<string, { count: number; sum: number }>();
  for (let i = 1; i <= N; i++) {
    const t = totals.get(`k${i % KEYS}`) ?? { count: 0, sum: 0 };
    totals.set(`k${i % KEYS}`, { count: t.count + 1, sum: t.sum + i });
  }
  return byKey(totals);
}

/** The largest running sum per key: its total once the run ended. */
function finalTotals(records: readonly KeySum[]): Totals {
  const out = new Map<string, { count: number; sum: number }>();
  for (const r of records) {
    const seen = out.get(r.key);
    if (seen === undefined || r.count > seen.count) out.set(r.key, { count: r.count, sum: r.sum });
  }
  return byKey(out);
}

/**
 * A resumed run continues the savepoint's sums: per key its counts run without gap or repeat from
 * one past the savepoint's count (above 1: the first run got that far) to the total, and that
 * savepoint count was reached by the first run.
 */
function assertResumed(t: import('ava').ExecutionContext, resumed: readonly KeySum[], firstRun: readonly KeySum[]): void {
  const first = finalTotals(firstRun);
  for (const [key, total] of Object.entries(expectedTotals())) {
    const counts = resumed.filter((r) => r.key === key).map((r) => r.count);
    const from = Math.min(...counts);
    t.true(from > 1, `${key} started again from its first element`);
    t.true(from - 1 <= (first[key]?.count ?? 0), `${key} resumed at ${from}, beyond the first run`);
    t.deepEqual(counts.sort((a, b) => a - b), Array.from({ length: total.count - from + 1 }, (_, i) => from + i), key);
  }
}

const jsonLines = (text: string): KeySum[] =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as KeySum);

/** Polls the collected records of a running job until it emitted some. */
async function untilEmitting(client: RestClient, jobId: JobId): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await client.collected(jobId, 0)).next === 0) {
    if (Date.now() > deadline) throw new Error(`job ${jobId} emitted nothing within 30 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Savepoint of the first run, taken by `troupe savepoint --stop`; shared by the resuming tests. */
let taken: Promise<{ location: string; jobId: JobId; firstRun: KeySum[] }> | undefined;

function savepointOfFirstRun(): Promise<{ location: string; jobId: JobId; firstRun: KeySum[] }> {
  taken ??= (async () => {
    const { address, client } = cluster();
    const jobId = await submit(client, JOB, 2, firstArgs);
    await untilEmitting(client, jobId);
    const r = await troupe(['savepoint', jobId, '--stop', '--dir', path.join(root, 'savepoints'), '--cluster', address]);
    if (r.code !== 0) throw new Error(`troupe savepoint failed: ${show(r)}`);
    const location = r.stdout.trim();
    const result = await client.waitForResult(jobId, { timeoutMs: 30_000 });
    if (result.status !== 'cancelled') throw new Error(`the first run ended ${result.status}, not cancelled: ${JSON.stringify(result.error)}`);
    const firstRun: KeySum[] = [];
    for await (const rec of client.collect(jobId)) firstRun.push(rec as KeySum);
    return { location, jobId, firstRun };
  })();
  return taken;
}

test.serial('savepoint cli - troupe savepoint --stop prints the savepoint directory, cancels the job, and the job reports it', async (t) => {
  const { location, jobId, firstRun } = await savepointOfFirstRun();
  t.true(path.isAbsolute(location));
  t.is(path.dirname(location), path.join(root, 'savepoints'));
  t.true(existsSync(path.join(location, '_metadata')), `no _metadata in ${location}`);
  // stopped early: the first run did not get through the sequence
  const counted = Object.values(finalTotals(firstRun)).reduce((n, x) => n + x.count, 0);
  t.true(counted < N, `the first run counted ${counted} of ${N} before the savepoint`);

  const r = await troupe(['checkpoints', jobId, '--cluster', cluster().address]);
  t.is(r.code, 0, show(r));
  const report = JSON.parse(r.stdout) as CheckpointsDto;
  t.deepEqual(
    report.history.filter((h) => h.kind === 'savepoint').map((h) => h.path),
    [location],
  );
  t.deepEqual(report.pending, []);
});

test.serial('savepoint cli - run --from-savepoint at another parallelism on the cluster ends with the totals of a straight run', async (t) => {
  const { location, firstRun } = await savepointOfFirstRun();
  const r = await troupe(['run', JOB, '-p', '3', '--cluster', cluster().address, '--collect', '--from-savepoint', location, '--', ...jobArgs]);
  t.is(r.code, 0, show(r));
  const resumed = jsonLines(r.stdout);
  t.deepEqual(finalTotals(resumed), expectedTotals());
  assertResumed(t, resumed, firstRun);
});

test.serial('savepoint cli - run --from-savepoint embedded at parallelism 1 ends with the totals of a straight run', async (t) => {
  const { location, firstRun } = await savepointOfFirstRun();
  const r = await troupe(['run', JOB, '-p', '1', '--quiet', '--from-savepoint', location, '--', ...jobArgs]);
  t.is(r.code, 0, show(r));
  const resumed = jsonLines(r.stdout);
  t.deepEqual(finalTotals(resumed), expectedTotals());
  assertResumed(t, resumed, firstRun);
});

test('savepoint cli - run --from-savepoint with no savepoint at the path is TROUPE_CHECKPOINT_NOT_FOUND and exit code 2', async (t) => {
  const missing = path.join(root, 'nowhere', 'savepoint-000000-000000000000');
  for (const where of [['--cluster', cluster().address], []]) {
    const r = await troupe(['run', JOB, '--quiet', '--from-savepoint', missing, ...where, '--', ...jobArgs]);
    t.is(r.code, 2, show(r));
    t.regex(r.stderr, /TROUPE_CHECKPOINT_NOT_FOUND/);
    t.is(r.stdout, '');
  }
});

test('savepoint cli - troupe savepoint of an unknown job exits 2 with TROUPE_JOB_NOT_FOUND', async (t) => {
  const r = await troupe(['savepoint', 'f'.repeat(32), '--cluster', cluster().address]);
  t.is(r.code, 2, show(r));
  t.regex(r.stderr, /TROUPE_JOB_NOT_FOUND/);
});
