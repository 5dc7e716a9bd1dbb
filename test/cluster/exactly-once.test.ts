/**
 * Exactly-once across crashes on forked TaskExecutors: a self-checking keyed operator (per-key
 * sequence numbers; a gap or a repeat fails the job) feeds a 2PC file sink. One TaskExecutor is
 * killed with SIGKILL mid-run, another after the next completed checkpoint; the job restarts from
 * its latest checkpoint each time and finishes, and the committed files hold every record once.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { startJobManager } from '../../actors/cluster/job-manager.js';
import { readCommittedJsonLines } from '../../api/datastream/sinks/file-sink.js';
import { RestClient } from '../../api/rest/rest-client.js';
import { parseClusterConfig } from '../../cluster-config/cluster-config.js';
import type { JobId } from '../../core/ids.js';
import { signalQuietly, submit } from '../helpers/cluster.js';

const fixture = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'checkpoint', 'sequence-checker.ts');

function completedCheckpoints(checkpointDir: string, jobId: JobId): number[] {
  const dir = path.join(checkpointDir, jobId);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((d) => /^chk-\d+$/.test(d) && existsSync(path.join(dir, d, '_metadata')))
    .map((d) => Number(d.slice(4)));
}

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

for (const backend of ['heap', 'sqlite'] as const) {
  test(`exactly-once - ${backend}: two TaskExecutors killed with SIGKILL, the committed output holds every record exactly once`, async (t) => {
    t.timeout(120_000);
    const work = mkdtempSync(path.join(tmpdir(), 'troupe-eo-test-'));
    const outDir = path.join(work, 'out');
    const checkpointDir = path.join(work, 'checkpoints');
    const config = parseClusterConfig(
      { mode: 'forked', jobmanager: { rpcPort: 0, restPort: 0 }, taskExecutors: [{ count: 2, slots: 2 }], workDir: path.join(work, 'cluster'), heartbeat: { intervalMs: 200, timeoutMs: 2000 } },
      {},
    );
    const jm = await startJobManager(config);
    t.teardown(async () => {
      await jm.close();
      rmSync(work, { recursive: true, force: true });
    });
    const client = new RestClient(jm.restUrl);
    const n = 24_000;
    const keys = 16;
    const jobId = await submit(client, fixture, 2, [outDir, checkpointDir, String(n), String(keys), '3000', '200', backend, 'true']);

    const pidOf = async (i: number): Promise<number> => (await client.overview()).executors.find((e) => e.id === `te-${i}`)?.pid ?? -1;
    const first = await waitFor('a first completed checkpoint', () => completedCheckpoints(checkpointDir, jobId).at(-1));
    signalQuietly(await pidOf(0), 'SIGKILL');
    const afterFirstKill = await waitFor('a checkpoint completed after the first kill', () => completedCheckpoints(checkpointDir, jobId).find((id) => id > first + 1));
    signalQuietly(await pidOf(1), 'SIGKILL');
    await waitFor('a checkpoint completed after the second kill', () => completedCheckpoints(checkpointDir, jobId).find((id) => id > afterFirstKill + 1));

    const result = await client.waitForResult(jobId, { timeoutMs: 90_000 });
    t.is(result.status, 'finished', JSON.stringify(result.error));

    const lines = await readCommittedJsonLines<{ k: number; s: number }>(outDir);
    const seen = new Map<string, number>();
    for (const r of lines) seen.set(`${r.k}/${r.s}`, (seen.get(`${r.k}/${r.s}`) ?? 0) + 1);
    const missing: string[] = [];
    const repeated: string[] = [];
    for (let x = 0; x < n; x++) {
      const id = `${x % keys}/${Math.floor(x / keys)}`;
      const c = seen.get(id) ?? 0;
      if (c === 0) missing.push(id);
      if (c > 1) repeated.push(id);
    }
    t.deepEqual({ missing: missing.slice(0, 5), repeated: repeated.slice(0, 5), total: lines.length }, { missing: [], repeated: [], total: n });
  });
}
