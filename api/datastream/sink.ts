/** Sinks: a Sink creates one writer per parallel subtask. */
export interface SinkContext {
  readonly subtaskIndex: number;
  readonly parallelism: number;
  readonly operatorName: string;
  /** Hands records to the JobMaster for a client to collect (CollectSink). */
  readonly collect: (records: unknown[]) => void;
}

export interface SinkWriter<T> {
  open?(): void | Promise<void>;
  write(value: T): void;
  /** Called on end of input, before close. */
  flush?(): void | Promise<void>;
  close?(): void | Promise<void>;
}

export interface Sink<T> {
  createWriter(ctx: SinkContext): SinkWriter<T>;
}
