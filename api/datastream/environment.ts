/** The entry point of a job: sources, configuration, execute. */
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { TroupeError } from '../../core/errors.js';
import { CHECKPOINT_DEFAULTS, validateCheckpointConfig, type CheckpointConfig, type CheckpointingMode } from '../../actors/job-master/checkpoint-coordinator.js';
import { parseRestartStrategy, type RestartStrategyConfig } from '../../actors/job-master/restart-strategy.js';
import type { JobCheckpointing, RestoreSettings } from '../../core/job-graph.js';
import type { StateBackendConfig, StateBackendKind } from '../../state/backend.js';
import { newJobId } from '../../core/ids.js';
import { DEFAULT_NETWORK_CONFIG, type JobGraph, type NetworkConfig } from '../../core/job-graph.js';
import { DEFAULT_MAX_PARALLELISM, UPPER_BOUND_MAX_PARALLELISM } from '../../state/key-groups.js';
import { MiniCluster } from '../../actors/mini-cluster.js';
import type { JobResult } from '../../actors/protocol/job-status.js';
import type { JobUserCode } from '../../actors/task/user-code.js';
import { DataStream, type StreamContext } from './data-stream.js';
import { buildJobGraph, validateParallelism } from './job-graph-builder.js';
import type { Source } from './source.js';
import { CollectionSource } from './sources/collection-source.js';
import { SequenceSource, type SequenceOptions } from './sources/sequence-source.js';
import { FileSource } from './sources/file-source.js';
import { CollectSink } from './sinks/collect-sink.js';
import { operatorIdOf, operatorTransformation, type Transformation } from './transformation.js';

export interface EnvironmentOptions {
  readonly parallelism?: number;
  readonly maxParallelism?: number;
  /** Flush partial buffers after this many ms; 0 = after every record; -1 = only when full. */
  readonly bufferTimeoutMs?: number;
  readonly network?: Partial<NetworkConfig>;
  /** The embedded cluster to run on (default: one started per execute, sized to the job). */
  readonly cluster?: MiniCluster;
}

export interface CheckpointingOptions {
  readonly mode?: CheckpointingMode;
  readonly timeoutMs?: number;
  readonly minPauseMs?: number;
  readonly maxConcurrent?: number;
  readonly tolerableFailures?: number;
  /** Completed checkpoints kept (default 1). */
  readonly retained?: number;
}

export interface StateBackendOptions {
  /** Incremental checkpoints (default false). */
  readonly incremental?: boolean;
  /** With incremental checkpoints: a full one at least every this many (default 10). */
  readonly materializeEvery?: number;
  /** sqlite: directory of the per-subtask databases (default: under the OS temp dir). */
  readonly dir?: string;
  /** sqlite: entries kept in the write-back cache (default 100 000). */
  readonly cacheEntries?: number;
}

/** The default checkpoint storage when none is set (fine on one host; set a shared one for clusters). */
export const DEFAULT_CHECKPOINT_STORAGE = join(tmpdir(), 'troupe-checkpoints');

/** What `execute` resolves with. */
export type ExecutionResult = JobResult & {
  /** records in/out of an operator by name (first match) or id. */
  recordsOf(operator: string): { recordsIn: number; recordsOut: number } | undefined;
};

export class StreamExecutionEnvironment {
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly network: NetworkConfig;
  private readonly transformations: Transformation[] = [];
  private readonly sinks: Transformation[] = [];
  private counter = 0;
  private readonly ctx: StreamContext;
  private checkpointConfig: CheckpointConfig | undefined;
  private checkpointStorage: { storage: string; savepoints: string } | undefined;
  private stateBackend: StateBackendConfig | undefined;
  private restartStrategy: RestartStrategyConfig | undefined;
  private restoreSettings: RestoreSettings | undefined;

  private constructor(private readonly options: EnvironmentOptions) {
    const maxP = options.maxParallelism ?? DEFAULT_MAX_PARALLELISM;
    if (!Number.isInteger(maxP) || maxP < 1 || maxP > UPPER_BOUND_MAX_PARALLELISM) {
      throw new TroupeError('TROUPE_INVALID_PARALLELISM', `maxParallelism must be an integer between 1 and ${UPPER_BOUND_MAX_PARALLELISM}, got ${String(maxP)}`);
    }
    this.maxParallelism = maxP;
    this.parallelism = validateParallelism(options.parallelism ?? 1, maxP, 'environment');
    const bufferTimeoutMs = options.bufferTimeoutMs ?? options.network?.bufferTimeoutMs ?? DEFAULT_NETWORK_CONFIG.bufferTimeoutMs;
    if (!Number.isInteger(bufferTimeoutMs) || bufferTimeoutMs < -1) {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `bufferTimeoutMs must be an integer >= -1, got ${String(bufferTimeoutMs)}`);
    }
    const network = { ...DEFAULT_NETWORK_CONFIG, ...options.network, bufferTimeoutMs };
    for (const k of ['bufferRecords', 'exclusiveCredits', 'bufferBytes', 'maxRecordBytes'] as const) {
      if (!Number.isInteger(network[k]) || network[k] < 1) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `${k} must be a positive integer, got ${String(network[k])}`);
    }
    if (!Number.isInteger(network.floatingCredits) || network.floatingCredits < 0) {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `floatingCredits must be a non-negative integer, got ${String(network.floatingCredits)}`);
    }
    this.network = network;
    this.ctx = {
      maxParallelism: maxP,
      nextId: () => this.counter++,
      add: (t) => this.transformations.push(t),
      addSink: (t) => this.sinks.push(t),
    };
  }

  static create(options: EnvironmentOptions = {}): StreamExecutionEnvironment {
    return new StreamExecutionEnvironment(options);
  }

  fromSource<T>(source: Source<T>, name = 'Source'): DataStream<T> {
    if (source === null || typeof source !== 'object' || typeof source.createReader !== 'function') {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', 'fromSource expects a Source (an object with createReader(ctx))');
    }
    const t = operatorTransformation(this.ctx.nextId(), name, { kind: 'source', source: source }, []);
    this.ctx.add(t);
    return new DataStream<T>(this.ctx, t);
  }

  fromCollection<T>(items: readonly T[], name = 'Collection Source'): DataStream<T> {
    if (!Array.isArray(items)) throw new TroupeError('TROUPE_INVALID_ARGUMENT', 'fromCollection expects an array');
    return this.fromSource(new CollectionSource<T>(items), name);
  }

  fromSequence(from: number, to: number, options: SequenceOptions = {}, name = 'Sequence Source'): DataStream<number> {
    return this.fromSource(new SequenceSource(from, to, options), name);
  }

  /** The lines of a text file, or of every file in a directory (replayable by byte offset). */
  readTextFile(location: string, name = 'File Source'): DataStream<string> {
    return this.fromSource(FileSource.forLines(location), name);
  }

  /**
   * Periodic checkpoints every `intervalMs` (Flink's enableCheckpointing). Sources are triggered,
   * barriers flow with the records, every task snapshots its state into the checkpoint storage.
   */
  enableCheckpointing(intervalMs: number, options: CheckpointingOptions = {}): this {
    const config: CheckpointConfig = { ...CHECKPOINT_DEFAULTS, ...definedOnly(options), intervalMs };
    const problem = validateCheckpointConfig(config);
    if (problem !== undefined) throw problem;
    this.checkpointConfig = config;
    return this;
  }

  /** `heap` (default) keeps keyed state in memory; `sqlite` in one SQLite database per subtask. */
  setStateBackend(kind: StateBackendKind, options: StateBackendOptions = {}): this {
    if (kind !== 'heap' && kind !== 'sqlite') throw new TroupeError('TROUPE_INVALID_ARGUMENT', `state backend must be 'heap' or 'sqlite', got ${String(kind)}`);
    const { incremental = false, materializeEvery, dir, cacheEntries } = options;
    if (typeof incremental !== 'boolean') throw new TroupeError('TROUPE_INVALID_ARGUMENT', `incremental must be a boolean, got ${String(incremental)}`);
    if (materializeEvery !== undefined && !(Number.isInteger(materializeEvery) && materializeEvery >= 1)) {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `materializeEvery must be an integer ≥ 1, got ${String(materializeEvery)}`);
    }
    if (cacheEntries !== undefined && !(Number.isInteger(cacheEntries) && cacheEntries >= 1)) {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `cacheEntries must be an integer ≥ 1, got ${String(cacheEntries)}`);
    }
    if (kind === 'heap' && (dir !== undefined || cacheEntries !== undefined)) throw new TroupeError('TROUPE_INVALID_ARGUMENT', 'dir and cacheEntries are options of the sqlite backend');
    const sqlite = kind === 'sqlite' && (dir !== undefined || cacheEntries !== undefined) ? { ...(dir !== undefined ? { dir: absolutePath(dir, 'sqlite dir') } : {}), ...(cacheEntries !== undefined ? { cacheEntries } : {}) } : undefined;
    this.stateBackend = { kind, incremental, ...(materializeEvery !== undefined ? { materializeEvery } : {}), ...(sqlite !== undefined ? { sqlite } : {}) };
    return this;
  }

  /** The durable checkpoint directory (all hosts must see it); savepoints default to `<dir>/savepoints`. */
  setCheckpointStorage(dir: string, options: { savepoints?: string } = {}): this {
    const storage = absolutePath(dir, 'checkpoint storage');
    this.checkpointStorage = { storage, savepoints: options.savepoints === undefined ? join(storage, 'savepoints') : absolutePath(options.savepoints, 'savepoint directory') };
    return this;
  }

  /** none, fixed-delay, failure-rate or exponential-delay (the default when checkpoints are enabled). */
  setRestartStrategy(strategy: RestartStrategyConfig | { type: string; [k: string]: unknown }): this {
    this.restartStrategy = parseRestartStrategy(strategy);
    return this;
  }

  /** Starts the job from a savepoint (or a retained checkpoint directory): `troupe run --from-savepoint`. */
  restoreFrom(path: string, options: { allowNonRestoredState?: boolean } = {}): this {
    this.restoreSettings = { path: absolutePath(path, 'savepoint path'), allowNonRestoredState: options.allowNonRestoredState === true };
    return this;
  }

  /** The job graph and user code this environment would submit (for inspection and tests). */
  build(name = 'Troupe Job'): { graph: JobGraph; userCode: JobUserCode } {
    return buildJobGraph(this.sinks, this.transformations, {
      jobId: newJobId(),
      name,
      defaultParallelism: this.parallelism,
      maxParallelism: this.maxParallelism,
      network: this.network,
      checkpointing: this.checkpointing(),
      ...(this.stateBackend !== undefined ? { stateBackend: this.stateBackend } : {}),
      ...(this.restartStrategy !== undefined ? { restartStrategy: this.restartStrategy } : {}),
      ...(this.restoreSettings !== undefined ? { restore: this.restoreSettings } : {}),
    });
  }

  /** Every job can take savepoints; periodic checkpoints only with an interval. */
  private checkpointing(): JobCheckpointing {
    const storage = this.checkpointStorage ?? { storage: DEFAULT_CHECKPOINT_STORAGE, savepoints: join(DEFAULT_CHECKPOINT_STORAGE, 'savepoints') };
    const periodic = this.checkpointConfig !== undefined;
    return { periodic, config: this.checkpointConfig ?? { ...CHECKPOINT_DEFAULTS, intervalMs: SAVEPOINTS_ONLY_INTERVAL_MS }, ...storage };
  }

  async execute(name = 'Troupe Job'): Promise<ExecutionResult> {
    const { graph, userCode } = this.build(name);
    const result = await runEmbedded(graph, userCode, this.options.cluster);
    if (result.status !== 'finished') {
      throw new TroupeError(result.error?.code ?? 'TROUPE_JOB_CANCELLED', `job '${name}' ${result.status}: ${result.error?.message ?? 'cancelled'}`, {
        ...(result.error?.operator !== undefined ? { operator: result.error.operator } : {}),
        ...(result.error?.cause !== undefined ? { cause: result.error.cause } : {}),
        details: { jobId: result.jobId, status: result.status },
      });
    }
    return withLookup(result);
  }

  /** Runs the job with `stream` going to a CollectSink and resolves with its records. */
  async executeAndCollect<T>(stream: DataStream<T>, name = 'Troupe Job'): Promise<T[]> {
    const sink = stream.sinkTo(new CollectSink<T>(), 'Collect');
    const result = await this.execute(name);
    return (result.collected[operatorIdOf(sink.transformation)] ?? []) as T[];
  }

}

/** Runs a job on `cluster`, or on a MiniCluster started for it and sized to it. */
export async function runEmbedded(graph: JobGraph, userCode: JobUserCode, cluster?: MiniCluster): Promise<JobResult> {
  const own = cluster === undefined;
  const c = cluster ?? (await MiniCluster.start({ slotsPerTaskExecutor: Math.max(...graph.vertices.map((v) => v.parallelism)) }));
  try {
    const jobId = await c.submit(graph, userCode);
    return await c.result(jobId);
  } finally {
    if (own) await c.close();
  }
}

/** The interval of a job without periodic checkpoints: never due (the coordinator still takes savepoints). */
export const SAVEPOINTS_ONLY_INTERVAL_MS = 2 ** 31 - 1;

function absolutePath(p: unknown, what: string): string {
  if (typeof p !== 'string' || p === '') throw new TroupeError('TROUPE_INVALID_ARGUMENT', `${what} must be a non-empty path, got ${String(p)}`);
  if (p.startsWith('memory:')) return p; // an in-memory store registered in this process (embedded only)
  return isAbsolute(p) ? p : resolve(p);
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function withLookup(result: JobResult): ExecutionResult {
  const recordsOf = (operator: string): { recordsIn: number; recordsOut: number } | undefined => {
    const op = result.operators.find((o) => o.id === operator) ?? result.operators.find((o) => o.name === operator);
    return op === undefined ? undefined : { recordsIn: op.recordsIn, recordsOut: op.recordsOut };
  };
  return { ...result, recordsOf };
}
