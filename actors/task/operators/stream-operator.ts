/** The one interface every built-in operator implements (Arroyo's / Flink's StreamOperator). */
import type { JobId } from '../../../core/ids.js';
import type { HeapKeyedStateBackend } from '../../../state/heap/heap-keyed-state-backend.js';

export interface Output {
  collect(value: unknown): void;
}

export interface OperatorContext {
  readonly jobId: JobId;
  readonly operatorName: string;
  readonly subtaskIndex: number;
  readonly parallelism: number;
  readonly maxParallelism: number;
  /** The subtask's keyed state backend (created on first use). */
  keyedStateBackend(): HeapKeyedStateBackend;
  /** Hands records to the JobMaster for collection by a client. */
  collect(records: unknown[]): void;
}

export interface StreamOperator {
  open(): void | Promise<void>;
  processElement(value: unknown): void;
  /** All input has arrived (bounded streams): emit what is held back. */
  endInput(): void | Promise<void>;
  close(): void | Promise<void>;
}
