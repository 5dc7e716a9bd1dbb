/**
 * The `troupe` command line end to end, as child processes of `node dist/api/cli/troupe.js`:
 * `cluster start` of a forked cluster (2 TaskExecutors × 2 slots), `run --cluster` with
 * `--collect` and `--detached`, `list`, `cancel`, `cluster stop` (no TaskExecutor left behind),
 * bad input (exit code 2) and `agent` without a secret.
 */
import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { AgentClient } from '../../actors/agent/agent-launcher.js';
import { RestClient } from '../../api/rest/rest-client.js';

const REPO = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(REPO, 'dist', 'api', 'cli', 'troupe.js');
const GOOD_JOB = path.join(REPO, 'test', 'fixtures', 'good-job.ts');
const SLOW_JOB = path.join(REPO, 'test', 'fixtures', 'cluster-cli', 'slow-job.ts');

const root = mkdtempSync(path.join(os.tmpdir(), 'troupe-cli-test-'));
const workDir = path.join(root, 'work');
const configFile = path.join(root, 'cluster.json');
let restPort = 0;
let cluster = '';
let started: Result | null = null;
let teardownPids: number[] = [];

interface Result {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** The environment of every child: no inherited cluster secret. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!('TROUPE_SECRET' in extra)) delete env.TROUPE_SECRET;
  return env;
}

function troupe(args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Result> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: REPO, env: options.env ?? childEnv(), timeout: options.timeoutMs ?? 30_000, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const e = error as (Error & { code?: unknown; signal?: NodeJS.Signals | null }) | null;
      resolve({
        code: e === null ? 0 : typeof e.code === 'number' ? e.code : null,
        signal: e?.signal ?? null,
        stdout,
        stderr,
        ms: Date.now() - started,
      });
    });
  });
}

const show = (r: Result): string => `exit ${r.code ?? r.signal ?? '?'} after ${r.ms} ms\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Alive and not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid && fields[0] !== 'Z') out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** TaskExecutor processes of this cluster, found by the work directory in their configuration. */
function ourTaskExecutors(): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('troupe-taskexecutor')) continue;
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').includes(workDir) && alive(Number(entry))) out.push(Number(entry));
    } catch {
      // gone or not ours to read
    }
  }
  return out;
}

async function eventually(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function jmPid(): number | null {
  const file = path.join(workDir, 'jobmanager.pid');
  return existsSync(file) ? Number(readFileSync(file, 'utf8')) : null;
}

async function listed(): Promise<Map<string, string>> {
  const r = await troupe(['list', '--cluster', cluster]);
  if (r.code !== 0) throw new Error(`troupe list failed: ${show(r)}`);
  return new Map(
    r.stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => {
        const [id, status] = l.trim().split(/\s+/);
        return [id!, status!];
      }),
  );
}

test.before(async () => {
  restPort = await freePort();
  cluster = `127.0.0.1:${restPort}`;
  writeFileSync(
    configFile,
    JSON.stringify({
      name: 'cli-test',
      mode: 'forked',
      jobmanager: { address: '127.0.0.1', rpcPort: 0, restPort },
      taskExecutors: [{ count: 2, slots: 2 }],
      heartbeat: { intervalMs: 500, timeoutMs: 3000 },
      workDir,
    }),
  );
  started = await troupe(['cluster', 'start', '--config', configFile], { timeoutMs: 45_000 });
});

test.after.always(async () => {
  const pid = jmPid();
  if (pid !== null && alive(pid)) {
    const stop = await troupe(['cluster', 'stop', '--cluster', cluster], { timeoutMs: 20_000 });
    if (stop.code !== 0 || alive(pid)) {
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, 'SIGKILL'); // the JobManager runs detached: its group holds its TaskExecutors
        } catch {
          // already gone
        }
      }
    }
  }
  for (const te of [...teardownPids, ...ourTaskExecutors()]) {
    try {
      if (alive(te)) process.kill(te, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(root, { recursive: true, force: true });
});

test.serial('cli - cluster start returns 0 once the forked cluster answers', async (t) => {
  t.truthy(started);
  const r = started!;
  t.is(r.code, 0, show(r));
  t.log(`cluster start: ${r.ms} ms`);
  t.regex(r.stderr, new RegExp(`cluster up: REST http://127\\.0\\.0\\.1:${restPort}, 2 TaskExecutors, 4 slots`));
  const overview = await new RestClient(cluster).overview();
  t.is(overview.taskExecutors, 2);
  t.is(overview.slotsTotal, 4);
  const pid = jmPid();
  t.true(pid !== null && alive(pid), 'jobmanager.pid names a live process');
  const tes = childrenOf(pid!);
  teardownPids = tes;
  t.is(tes.length, 2, 'two TaskExecutor children');
  for (const te of tes) t.regex(readFileSync(`/proc/${te}/cmdline`, 'utf8'), /^troupe-taskexecutor te-[01]/);
  t.deepEqual(ourTaskExecutors().sort(), [...tes].sort());
  t.true(existsSync(path.join(workDir, 'jobmanager.log')));
});

test.serial('cli - run --collect prints the records of good-job as JSON lines and exits 0', async (t) => {
  const r = await troupe(['run', '--cluster', cluster, '--collect', GOOD_JOB]);
  t.is(r.code, 0, show(r));
  t.log(`run --collect: ${r.ms} ms`);
  // fromSequence(1, 10) → {sensor: s(i % 2), value: i}, keyed running sum, parallelism 1: in order
  const sums = new Map<string, number>();
  const expected: string[] = [];
  for (let i = 1; i <= 10; i++) {
    const sensor = `s${i % 2}`;
    sums.set(sensor, (sums.get(sensor) ?? 0) + i);
    expected.push(JSON.stringify({ sensor, value: sums.get(sensor) }));
  }
  t.deepEqual(r.stdout.trimEnd().split('\n'), expected);
  t.regex(r.stderr, /submitted 'good-job' to 127\.0\.0\.1:\d+ as job [0-9a-f]{32}/);
  t.regex(r.stderr, /finished/);

  const args = await troupe(['run', '--cluster', cluster, '--collect', '--quiet', GOOD_JOB, '--', '4']);
  t.is(args.code, 0, show(args));
  t.deepEqual(args.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown), [
    { sensor: 's1', value: 1 },
    { sensor: 's0', value: 2 },
    { sensor: 's1', value: 4 },
    { sensor: 's0', value: 6 },
  ]);
  t.is(args.stderr, '', '--quiet');
});

test.serial('cli - run --detached prints the job id, list lists it, cancel cancels a long-running job', async (t) => {
  const finished = await troupe(['run', '--cluster', cluster, '--detached', '--quiet', GOOD_JOB]);
  t.is(finished.code, 0, show(finished));
  t.regex(finished.stdout, /^[0-9a-f]{32}\n$/);
  const finishedId = finished.stdout.trim();

  const slow = await troupe(['run', '--cluster', cluster, '--detached', SLOW_JOB]);
  t.is(slow.code, 0, show(slow));
  t.regex(slow.stdout, /^[0-9a-f]{32}\n$/);
  const slowId = slow.stdout.trim();
  t.log(`run --detached: ${slow.ms} ms`);

  await eventually('the slow job to run', async () => (await listed()).get(slowId) === 'running');
  await eventually('good-job to finish', async () => (await listed()).get(finishedId) === 'finished');
  const list = await troupe(['list', '--cluster', cluster]);
  t.is(list.code, 0, show(list));
  t.regex(list.stdout, new RegExp(`^${slowId}  running     slow-job$`, 'm'));
  t.regex(list.stdout, new RegExp(`^${finishedId}  finished    good-job$`, 'm'));
  t.true(list.stdout.trim().split('\n').length >= 4, 'the jobs of the previous test are listed too');

  const cancel = await troupe(['cancel', slowId, '--cluster', cluster]);
  t.is(cancel.code, 0, show(cancel));
  t.regex(cancel.stderr, new RegExp(`cancelling job ${slowId}`));
  await eventually('the slow job to be cancelled', async () => (await listed()).get(slowId) === 'cancelled');
  const result = await new RestClient(cluster).jobResult(slowId as never);
  t.is(result?.status, 'cancelled');

  // the slots came back: the cluster still runs jobs
  const again = await troupe(['run', '--cluster', cluster, '--collect', '--quiet', GOOD_JOB, '--', '2']);
  t.is(again.code, 0, show(again));
  t.is(again.stdout, '{"sensor":"s1","value":1}\n{"sensor":"s0","value":2}\n');
});

test.serial('cli - cancel of an unknown job exits 2 with TROUPE_JOB_NOT_FOUND', async (t) => {
  const r = await troupe(['cancel', '0123456789abcdef0123456789abcdef', '--cluster', cluster]);
  t.is(r.code, 2, show(r));
  t.regex(r.stderr, /TROUPE_JOB_NOT_FOUND/);
});

test.serial('cli - cluster stop exits 0 and leaves no TaskExecutor of this cluster behind', async (t) => {
  const pid = jmPid()!;
  const tes = childrenOf(pid);
  t.is(tes.length, 2);
  const r = await troupe(['cluster', 'stop', '--cluster', cluster], { timeoutMs: 45_000 });
  t.is(r.code, 0, show(r));
  t.log(`cluster stop: ${r.ms} ms`);
  t.regex(r.stderr, new RegExp(`cluster at ${cluster} stopped`));
  await eventually('the JobManager and its TaskExecutors to exit', () => !alive(pid) && tes.every((te) => !alive(te)), 10_000);
  t.deepEqual(ourTaskExecutors(), []);
  const list = await troupe(['list', '--cluster', cluster]);
  t.not(list.code, 0, 'nobody answers any more');
  t.regex(readFileSync(path.join(workDir, 'jobmanager.log'), 'utf8'), /cluster stopped/);
});

test('cli - an unknown config file exits 2 with TROUPE_INVALID_CLUSTER_CONFIG', async (t) => {
  const missing = path.join(root, 'no-such-config.json');
  const r = await troupe(['cluster', 'start', '--config', missing]);
  t.is(r.code, 2, show(r));
  t.regex(r.stderr, /TROUPE_INVALID_CLUSTER_CONFIG/);
  t.true(r.stderr.includes(missing), 'names the file');
  const stop = await troupe(['cluster', 'stop', '--config', missing]);
  t.is(stop.code, 2, show(stop));
  t.regex(stop.stderr, /TROUPE_INVALID_CLUSTER_CONFIG/);
});

test('cli - run --detached or --collect without --cluster exits 2', async (t) => {
  for (const flag of ['--detached', '--collect']) {
    const r = await troupe(['run', flag, GOOD_JOB]);
    t.is(r.code, 2, show(r));
    t.regex(r.stderr, /--detached and --collect need --cluster/);
    t.is(r.stdout, '');
  }
});

test('cli - agent without TROUPE_SECRET exits non-zero with TROUPE_INSECURE_BIND', async (t) => {
  for (const env of [childEnv(), childEnv({ TROUPE_SECRET: '' })]) {
    const agentDir = path.join(root, 'agent-refused');
    const r = await troupe(['agent', '--bind', '127.0.0.1', '--port', '0', '--work-dir', agentDir], { env, timeoutMs: 15_000 });
    t.not(r.code, 0, show(r));
    t.is(r.signal, null, 'it exits by itself, it does not hang');
    t.regex(r.stderr, /TROUPE_INSECURE_BIND/);
    t.regex(r.stderr, /loopback is reachable by every user/);
    t.false(existsSync(agentDir));
  }
});

test('cli - agent with TROUPE_SECRET listens on the given address, serves an authenticated client and stops on SIGTERM', async (t) => {
  const secret = 'cli-agent-test-secret-0123456789';
  const agentDir = path.join(root, 'agent-ok');
  const child = spawn(process.execPath, [CLI, 'agent', '--bind', '127.0.0.1', '--port', '0', '--work-dir', agentDir], { cwd: REPO, env: childEnv({ TROUPE_SECRET: secret }), stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  await eventually('the agent to listen', () => /listening on 127\.0\.0\.1:\d+/.test(stderr) || child.exitCode !== null, 10_000);
  const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(stderr)?.[1]);
  t.true(port > 0, stderr);
  t.false(stderr.includes(secret));
  const client = await AgentClient.connect('127.0.0.1', port, secret, 3_000);
  t.deepEqual(await client.request({ type: 'stop', id: 'nobody' }), { requestId: 1, ok: true });
  client.close();
  child.kill('SIGTERM');
  t.is(await exited, 0);
});
