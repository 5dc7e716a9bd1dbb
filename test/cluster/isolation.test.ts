/**
 * User function objects are per subtask on a TaskExecutor: the job function runs once per task
 * there, so state a function keeps in `this` is not shared by two subtasks in one process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { startJobManager } from '../../actors/cluster/job-manager.js';
import { ClusterClient } from '../../api/cluster-client.js';
import { parseClusterConfig } from '../../cluster-config/cluster-config.js';

const FIXTURE = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'cluster-isolation', 'stateful-function-job.ts');

test('isolation - two subtasks on one TaskExecutor each count their own records in `this`', async (t) => {
  t.timeout(60_000);
  const workDir = mkdtempSync(path.join(tmpdir(), 'troupe-isolation-'));
  const jm = await startJobManager(parseClusterConfig({ mode: 'forked', jobmanager: { rpcPort: 0, restPort: 0 }, taskExecutors: [{ count: 1, slots: 2 }], workDir }, {}));
  t.teardown(async () => {
    await jm.close();
    rmSync(workDir, { recursive: true, force: true });
  });
  const client = new ClusterClient(jm.restUrl);
  const jobId = await client.submitJobModule(FIXTURE);
  const { records, result } = await client.collectAll(jobId);
  t.is(result.status, 'finished');
  t.is(records.length, 1000);
  const counts = (records as number[]).sort((a, b) => a - b);
  // rebalance splits 1000 records 500/500: each instance counts 1..500, twice over
  t.is(counts[counts.length - 1], 500);
  t.deepEqual(counts.filter((c) => c === 1).length, 2);
});
