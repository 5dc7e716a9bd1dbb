/**
 * Sinks: a Sink creates one writer per parallel subtask.
 *
 * Checkpointing (exactly-once sinks, Flink's TwoPhaseCommitSinkFunction): when a checkpoint barrier
 * reaches the sink, the task calls `snapshotState(n)`. Synchronously it must seal what was written
 * since the previous barrier (the transaction of checkpoint n) and begin a new one: every later
 * `write` belongs to the new transaction. The promise it returns finishes the pre-commit (flush,
 * fsync) and resolves with the operator list state to store in checkpoint n (for 2PC sinks: the
 * pending transactions). After checkpoint n completes, `notifyCheckpointComplete(n)` commits every
 * transaction sealed at or before n; `notifyCheckpointAborted(n)` leaves them pending (a later
 * checkpoint covers them). After a restart `SinkContext.restoredState` holds the list state of the
 * checkpoint restored from (redistributed on rescale): the writer recovers and commits the
 * transactions it names (idempotently), and aborts transactions it left open.
 */
export interface SinkContext {
  readonly subtaskIndex: number;
  readonly parallelism: number;
  readonly operatorName: string;
  /** The attempt number of this subtask (0 at first, +1 per job restart). */
  readonly attempt: number;
  /** The job id: stable across restarts. */
  readonly jobId: string;
  /** True when the job takes checkpoints (2PC sinks then commit on checkpoint completion). */
  readonly checkpointing: boolean;
  /** The operator list state restored from a checkpoint or savepoint; undefined on a fresh start. */
  readonly restoredState?: readonly unknown[];
  /** Hands records to the JobMaster for a client to collect (CollectSink). */
  readonly collect: (records: unknown[]) => void;
}

export interface SinkWriter<T> {
  /** May be async: recover-and-commit of restored transactions happens here. */
  open?(): void | Promise<void>;
  write(value: T): void;
  /** Called on end of input, before close: a 2PC sink commits what it holds (the job is finishing). */
  flush?(): void | Promise<void>;
  close?(): void | Promise<void>;
  /** See the module header; omit for a sink without state. */
  snapshotState?(checkpointId: number): Promise<readonly unknown[]>;
  notifyCheckpointComplete?(checkpointId: number): void | Promise<void>;
  notifyCheckpointAborted?(checkpointId: number): void | Promise<void>;
}

export interface Sink<T> {
  createWriter(ctx: SinkContext): SinkWriter<T>;
}
