/** Client / JobMaster → Dispatcher. */
import type { JobId } from '../../core/ids.js';
import type { JobGraph } from '../../core/job-graph.js';
import type { ActorHandle } from '../runtime/typed-actor.js';
import type { JobResult, JobStatus, JobStatusReport, TaskMetrics } from './job-status.js';

export type DispatcherTell =
  | { readonly type: 'job-status-changed'; readonly jobId: JobId; readonly status: JobStatus }
  | { readonly type: 'job-terminated'; readonly result: JobResult };

export type DispatcherAsk =
  | { readonly type: 'submit-job'; readonly jobGraph: JobGraph }
  | { readonly type: 'job-status'; readonly jobId: JobId }
  | { readonly type: 'job-result'; readonly jobId: JobId }
  | { readonly type: 'cancel-job'; readonly jobId: JobId }
  | { readonly type: 'job-metrics'; readonly jobId: JobId }
  | { readonly type: 'list-jobs' };

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
}
export type DispatcherHandle = ActorHandle<DispatcherTell, DispatcherAsk, DispatcherReplies>;
