/** Client / JobMaster / TaskExecutor → Dispatcher. */
import type { JobId } from '../../core/ids.js';
import type { JobGraph } from '../../core/job-graph.js';
import type { Handle } from '../runtime/handle.js';
import type { CheckpointsReport } from './job-master.js';
import type { JobResult, JobStatus, JobStatusReport, TaskMetrics } from './job-status.js';

/**
 * A job's code as shipped to TaskExecutors: the client's esbuild bundle (CommonJS text with every
 * dependency inside, `troupe` left to the runtime), and what the client ran it with, so a
 * TaskExecutor rebuilds the same graph.
 */
export interface JobArtifact {
  readonly bundle: string;
  readonly entry: string;
  readonly args: readonly string[];
  readonly parallelism: number;
}

/**
 * The longest a savepoint may take from trigger to completion before its ask gives up (on every
 * hop: REST client, gateway → Dispatcher, Dispatcher → JobMaster). Savepoints of large state take
 * minutes; the checkpoint timeout of the job usually ends a stuck one sooner.
 */
export const SAVEPOINT_TIMEOUT_MS = 10 * 60_000;

export type DispatcherTell =
  | { readonly type: 'job-status-changed'; readonly jobId: JobId; readonly status: JobStatus }
  | { readonly type: 'job-terminated'; readonly result: JobResult; readonly collectedInOrder: unknown[] };

export type DispatcherAsk =
  | { readonly type: 'submit-job'; readonly jobGraph: JobGraph; readonly artifact?: JobArtifact }
  | { readonly type: 'job-status'; readonly jobId: JobId }
  | { readonly type: 'job-result'; readonly jobId: JobId }
  | { readonly type: 'cancel-job'; readonly jobId: JobId }
  | { readonly type: 'job-metrics'; readonly jobId: JobId }
  | { readonly type: 'list-jobs' }
  | { readonly type: 'fetch-artifact'; readonly jobId: JobId }
  | { readonly type: 'collected'; readonly jobId: JobId; readonly from: number }
  /** Forwarded to the job's JobMaster; resolves with the savepoint's directory once it completed. */
  | { readonly type: 'trigger-savepoint'; readonly jobId: JobId; readonly dir?: string; readonly stop: boolean }
  | { readonly type: 'job-checkpoints'; readonly jobId: JobId };

export interface JobSummary {
  readonly jobId: JobId;
  readonly name: string;
  readonly status: JobStatus;
}

export interface DispatcherReplies {
  'submit-job': { jobId: JobId };
  'job-status': JobStatusReport;
  'job-result': JobResult | null;
  'cancel-job': true;
  'job-metrics': TaskMetrics[];
  'list-jobs': JobSummary[];
  'fetch-artifact': JobArtifact;
  collected: { records: unknown[]; next: number; complete: boolean };
  'trigger-savepoint': string;
  'job-checkpoints': CheckpointsReport;
}
export type DispatcherHandle = Handle<DispatcherTell, DispatcherAsk, DispatcherReplies>;
