/**
 * Response bodies. Where the wire form differs from the internal type it is its own type, and
 * every response is built field by field, so a field added inside the cluster does not leak out
 * by accident.
 */
import type { JobId } from '../../core/ids.js';
import type { JobSummary } from '../../actors/protocol/dispatcher.js';
import type { CheckpointsReport } from '../../actors/protocol/job-master.js';
import { TERMINAL_JOB_STATUSES, type JobResult, type JobStatus, type JobStatusReport } from '../../actors/protocol/job-status.js';
import type { ClusterOverview } from '../../actors/protocol/resource-manager.js';
import type { CollectedSlice } from './gateway.js';

/** GET /overview (Flink: taskmanagers, slots-total, slots-available, jobs-running, ...). */
export interface OverviewDto {
  readonly taskExecutors: number;
  readonly slotsTotal: number;
  readonly slotsFree: number;
  /** TaskExecutors the cluster configuration asks for, registered or not. */
  readonly taskExecutorsExpected: number;
  readonly executors: readonly TaskExecutorDto[];
  /** Jobs not yet terminal (created, running, failing, cancelling). */
  readonly jobsRunning: number;
  readonly jobsFinished: number;
  readonly jobsFailed: number;
  readonly jobsCancelled: number;
}

export interface TaskExecutorDto {
  readonly id: string;
  readonly endpoint: string;
  readonly slots: number;
  readonly pid?: number;
}

/** An entry of GET /jobs (Flink: id, status). */
export interface JobListEntryDto {
  readonly id: JobId;
  readonly name: string;
  readonly status: JobStatus;
}

export interface JobListDto {
  readonly jobs: readonly JobListEntryDto[];
}

export interface SubmitJobResponseDto {
  readonly jobId: JobId;
}

/** GET /jobs/:jobId: the internal report's shape, copied field by field. */
export type JobStatusDto = JobStatusReport;

/** GET /jobs/:jobId/execution-result: 200 when completed, 202 while in progress. */
export type ExecutionResultDto = { readonly status: 'completed'; readonly result: JobResult } | { readonly status: 'in-progress' };

/** GET /jobs/:jobId/collected: records as JSON (see json-safe.ts). */
export type CollectedSliceDto = CollectedSlice;

/** POST /jobs/:jobId/savepoints: the savepoint's absolute directory, for `--from-savepoint`. */
export interface SavepointResponseDto {
  readonly location: string;
}

/** An entry of the checkpoint history (completed checkpoints and savepoints, oldest first). */
export interface CheckpointHistoryEntryDto {
  readonly id: number;
  readonly kind: 'checkpoint' | 'savepoint';
  /** Absolute directory of the checkpoint or savepoint. */
  readonly path: string;
  /** Epoch ms: triggered, completed. */
  readonly triggeredAt: number;
  readonly completedAt: number;
  /** Bytes and number of the state files it references. */
  readonly bytes: number;
  readonly files: number;
  /** A checkpoint dropped from the retained ones (savepoints are never discarded by the job). */
  readonly discarded: boolean;
}

/** GET /jobs/:jobId/checkpoints (as of the job's end once it ended). */
export interface CheckpointsDto {
  readonly history: readonly CheckpointHistoryEntryDto[];
  /** Triggered, not yet completed nor aborted. */
  readonly pending: ReadonlyArray<{ readonly id: number; readonly kind: 'checkpoint' | 'savepoint' }>;
  /** Ids of the completed checkpoints the job keeps to restore from, oldest first. */
  readonly retained: readonly number[];
  /** The job's restart attempt (0 = never restarted). */
  readonly attempt: number;
}

export function toOverviewDto(overview: ClusterOverview, jobs: readonly JobSummary[]): OverviewDto {
  const countOf = (status: JobStatus): number => jobs.filter((j) => j.status === status).length;
  return {
    taskExecutors: overview.taskExecutors,
    slotsTotal: overview.slotsTotal,
    slotsFree: overview.slotsFree,
    taskExecutorsExpected: overview.taskExecutorsExpected,
    executors: overview.executors.map((e) => ({ id: e.id, endpoint: e.endpoint, slots: e.slots, ...(e.pid !== undefined ? { pid: e.pid } : {}) })),
    jobsRunning: jobs.filter((j) => !TERMINAL_JOB_STATUSES.includes(j.status)).length,
    jobsFinished: countOf('finished'),
    jobsFailed: countOf('failed'),
    jobsCancelled: countOf('cancelled'),
  };
}

export function toJobListDto(jobs: readonly JobSummary[]): JobListDto {
  return { jobs: jobs.map((j) => ({ id: j.jobId, name: j.name, status: j.status })) };
}

export function toJobStatusDto(report: JobStatusReport): JobStatusDto {
  return {
    jobId: report.jobId,
    name: report.name,
    status: report.status,
    startTime: report.startTime,
    tasks: report.tasks.map((task) => ({ attemptId: task.attemptId, state: task.state })),
  };
}

export function toExecutionResultDto(result: JobResult | null): ExecutionResultDto {
  return result === null ? { status: 'in-progress' } : { status: 'completed', result };
}

export function toCollectedSliceDto(slice: CollectedSlice): CollectedSliceDto {
  return { records: slice.records, next: slice.next, complete: slice.complete };
}

export function toCheckpointsDto(report: CheckpointsReport): CheckpointsDto {
  return {
    history: report.history.map((r) => ({
      id: r.checkpointId,
      kind: r.kind,
      path: r.path,
      triggeredAt: r.timestamp,
      completedAt: r.completedAt,
      bytes: r.bytes,
      files: r.files,
      discarded: r.discarded,
    })),
    pending: report.pending.map((p) => ({ id: p.checkpointId, kind: p.kind })),
    retained: [...report.retained],
    attempt: report.attempt,
  };
}
