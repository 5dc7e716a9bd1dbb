/** The one interface every built-in operator implements (Arroyo's / Flink's StreamOperator). */
import type { JobId } from '../../../core/ids.js';
import type { KeyedStateBackend } from '../../../state/backend.js';

export interface Output {
  collect(value: unknown): void;
}

export interface OperatorContext {
  readonly jobId: JobId;
  readonly operatorName: string;
  readonly subtaskIndex: number;
  readonly parallelism: number;
  readonly maxParallelism: number;
  /** 0 at first, +1 per job restart. */
  readonly attempt: number;
  /** The job takes checkpoints. */
  readonly checkpointing: boolean;
  /** This operator's restored operator list state (sources, sinks); undefined on a fresh start. */
  readonly restoredOperatorState: readonly unknown[] | undefined;
  /** The subtask's keyed state backend (created on first use). */
  keyedStateBackend(): KeyedStateBackend;
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
