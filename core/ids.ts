/** Branded ids: plain strings on the wire, distinct types in the code. */
import { randomBytes } from 'node:crypto';

declare const brand: unique symbol;
export type Branded<T, B extends string> = T & { readonly [brand]: B };

export type JobId = Branded<string, 'JobId'>;
export type VertexId = Branded<string, 'VertexId'>;
export type OperatorId = Branded<string, 'OperatorId'>;
/** One attempt of one subtask: `${job id prefix}/${vertexId}#${subtask}@${attempt}` (unique across jobs). */
export type ExecutionAttemptId = Branded<string, 'ExecutionAttemptId'>;
export type AllocationId = Branded<string, 'AllocationId'>;
export type TaskExecutorId = Branded<string, 'TaskExecutorId'>;

export function newJobId(): JobId {
  return randomBytes(16).toString('hex') as JobId;
}

export function newAllocationId(): AllocationId {
  return randomBytes(8).toString('hex') as AllocationId;
}

export function executionAttemptId(job: JobId, vertex: VertexId, subtask: number, attempt: number): ExecutionAttemptId {
  return `${job.slice(0, 12)}/${vertex}#${subtask}@${attempt}` as ExecutionAttemptId;
}
