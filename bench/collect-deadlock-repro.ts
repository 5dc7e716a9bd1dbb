/**
 * Reproduces a deadlock on a forked cluster: asking the Dispatcher for a job's collected records
 * right after submitting it (as `troupe run --cluster --collect` and RestClient.collect do).
 *
 *   Dispatcher 'collected'  awaits  JobMaster 'collected'  (queued behind the JobMaster's 'schedule')
 *   JobMaster 'schedule'    awaits  TaskExecutor 'submit-task'
 *   TaskExecutor 'submit-task' awaits the job's code: Dispatcher 'fetch-artifact' (queued behind 'collected')
 *
 * Every actor's mailbox is serial (actors/runtime/mailbox.ts), so nothing moves until the
 * JobMaster ask times out (10 s); meanwhile the TaskExecutors' heartbeat requests wait behind
 * 'submit-task', they are declared lost after 5 s, and the job fails with TROUPE_PEER_UNREACHABLE.
 *
 * `node dist/bench/collect-deadlock-repro.js [delayMs = 0]` (delay between submit and the ask).
 * Fixed by 040b4af (query asks run beside the mailbox): it now answers at once and the job finishes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startJobManager } from '../actors/cluster/job-manager.js';
import { bundleJobModule, evaluateJobBundle } from '../api/cli/job-module.js';
import { parseClusterConfig } from '../cluster-config/cluster-config.js';
import { StreamExecutionEnvironment } from '../index.js';

async function main(): Promise<void> {
  const delayMs = Number(process.argv[2] ?? 0);
  const workDir = mkdtempSync(path.join(tmpdir(), 'troupe-repro-'));
  const jm = await startJobManager(
    parseClusterConfig({ mode: 'forked', jobmanager: { rpcPort: 0, restPort: 0 }, taskExecutors: [{ count: 2, slots: 1 }], workDir }, {}),
  );
  try {
    const file = path.resolve(__dirname, '..', '..', 'bench', 'jobs', 'stamped.ts');
    const args = ['records=1000', 'sink=latency'];
    const bundle = await bundleJobModule(file, { ship: true });
    const env = StreamExecutionEnvironment.create({ parallelism: 2 });
    await evaluateJobBundle(bundle, file)(env, args);
    const { graph } = env.build('repro');
    const t0 = performance.now();
    const { jobId } = await jm.dispatcher.ask({ type: 'submit-job', jobGraph: graph, artifact: { bundle, entry: 'stamped.ts', args, parallelism: 2 } });
    await new Promise((r) => setTimeout(r, delayMs));
    const t1 = performance.now();
    await jm.dispatcher.ask({ type: 'collected', jobId, from: 0 }, 30_000).then(
      () => console.log(`collected answered after ${(performance.now() - t1).toFixed(0)} ms`),
      (error: unknown) => console.log(`collected failed after ${(performance.now() - t1).toFixed(0)} ms: ${error instanceof Error ? error.message : String(error)}`),
    );
    for (;;) {
      const result = await jm.dispatcher.ask({ type: 'job-result', jobId });
      if (result !== null) {
        console.log(`job ${result.status} after ${(performance.now() - t0).toFixed(0)} ms ${result.error?.code ?? ''} ${result.error?.message ?? ''}`);
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await jm.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
