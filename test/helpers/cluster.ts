/** Shared steps of the cluster tests. */
import { prepareJobModule } from '../../api/cluster-client.js';
import type { RestClient } from '../../api/rest/rest-client.js';
import type { JobId } from '../../core/ids.js';

/** Bundles, builds and submits a job module the way `troupe run --cluster` does. */
export async function submit(client: RestClient, file: string, parallelism: number, args: string[] = []): Promise<JobId> {
  const { graph, artifact } = await prepareJobModule(file, { parallelism, args });
  const { jobId } = await client.submitJob(graph, artifact);
  return jobId;
}

/** Every CollectSink record of the job, polled from right after submission (as `--collect` does). */
export async function collectAll(client: RestClient, jobId: JobId): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const r of client.collect(jobId)) out.push(r);
  return out;
}

/** Waits until the job left 'created' (deployed, or failed to deploy); returns its status. */
export async function waitUntilDeployed(client: RestClient, jobId: JobId, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = (await client.listJobs()).find((j) => j.id === jobId)?.status;
    if (status !== undefined && status !== 'created') return status;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${status ?? 'unknown'} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Sends a signal to a process that may be gone already. */
export function signalQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
