/**
 * What the REST layer needs from a running cluster. The JobManager process implements it; the
 * REST layer only validates, maps errors to HTTP and shapes responses.
 */
import type { JobId } from '../../core/ids.js';
import type { JobGraph } from '../../core/job-graph.js';
import type { JobArtifact, JobSummary } from '../../actors/protocol/dispatcher.js';
import type { CheckpointsReport } from '../../actors/protocol/job-master.js';
import type { JobResult, JobStatusReport } from '../../actors/protocol/job-status.js';
import type { ClusterOverview } from '../../actors/protocol/resource-manager.js';

export type { JobArtifact } from '../../actors/protocol/dispatcher.js';

export interface CollectedSlice {
  readonly records: readonly unknown[];
  readonly next: number;
  readonly complete: boolean;
}

export interface ClusterGateway {
  submitJob(jobGraph: JobGraph, artifact: JobArtifact): Promise<{ jobId: JobId }>;
  listJobs(): Promise<JobSummary[]>;
  jobStatus(jobId: JobId): Promise<JobStatusReport>;
  /** null while the job is not terminal. */
  jobResult(jobId: JobId): Promise<JobResult | null>;
  cancelJob(jobId: JobId): Promise<void>;
  /** CollectSink records from index `from` on, in arrival order; complete = job terminal and nothing after `next`. */
  collected(jobId: JobId, from: number): Promise<CollectedSlice>;
  /**
   * Takes a savepoint of a running job and resolves with its absolute directory once it completed
   * (minutes for large state: implementations wait up to SAVEPOINT_TIMEOUT_MS). `dir`: an absolute
   * directory (default: the job's savepoint directory); `stop`: the job is cancelled right after.
   */
  triggerSavepoint(jobId: JobId, options: { readonly dir?: string; readonly stop: boolean }): Promise<string>;
  /** The job's checkpoint history, pending and retained checkpoints (as of its end once it ended). */
  jobCheckpoints(jobId: JobId): Promise<CheckpointsReport>;
  overview(): Promise<ClusterOverview>;
  shutdown(): Promise<void>;
}
