/**
 * The job graph: what the client submits. Plain JSON, so it can travel to other processes;
 * user functions are not in it. Each operator carries a stable id, by which a task finds the
 * operator's user code (see actors/task/user-code.ts).
 *
 * Invariants:
 *  1. Vertices are listed in topological order (every edge goes from a lower to a higher index).
 *  2. A forward edge connects vertices of equal parallelism, subtask i to subtask i.
 *  3. A hash edge names the operator whose key selector partitions it (`keyedBy`).
 *  4. Operator ids are unique within a job.
 */
import type { JobId, OperatorId, VertexId } from './ids.js';
import type { CheckpointConfig } from '../actors/job-master/checkpoint-coordinator.js';
import type { RestartStrategyConfig } from '../actors/job-master/restart-strategy.js';
import type { StateBackendConfig } from '../state/backend.js';

/** Checkpointing of a job: `periodic` false means savepoints only (no interval was set). */
export interface JobCheckpointing {
  readonly periodic: boolean;
  readonly config: CheckpointConfig;
  /** Root directory of the checkpoint storage; every host must see it (a shared file system). */
  readonly storage: string;
  /** Where savepoints go when `troupe savepoint` names no directory. */
  readonly savepoints: string;
}

/** Start from a savepoint (or a retained checkpoint's directory). */
export interface RestoreSettings {
  /** Absolute path of the savepoint directory (or of a chk-<n> directory). */
  readonly path: string;
  /** Drop state of operators the job no longer has instead of refusing. */
  readonly allowNonRestoredState: boolean;
}

export type PartitionerKind = 'forward' | 'rebalance' | 'hash' | 'broadcast';

export type OperatorKind =
  | 'source'
  | 'map'
  | 'filter'
  | 'flat-map'
  | 'process'
  | 'keyed-process'
  | 'reduce'
  | 'sink';

export interface OperatorSpec {
  readonly id: OperatorId;
  readonly name: string;
  readonly kind: OperatorKind;
  /** Operator outputs that leave the chain, by edge id. */
  readonly outEdges: readonly string[];
  /** Index (within the chain) of operators this one feeds directly. */
  readonly chainedOutputs: readonly number[];
}

export interface JobVertex {
  readonly id: VertexId;
  readonly name: string;
  readonly parallelism: number;
  readonly maxParallelism: number;
  /** Chain members; [0] is the head, which receives the vertex's input. */
  readonly operators: readonly OperatorSpec[];
}

export interface JobEdge {
  readonly id: string;
  readonly source: VertexId;
  /** Chain member of the source vertex that writes into this edge. */
  readonly sourceOperator: OperatorId;
  readonly target: VertexId;
  readonly partitioner: PartitionerKind;
  /** For hash edges: the operator whose user code holds the key selector. */
  readonly keyedBy?: OperatorId;
}

export interface NetworkConfig {
  /** Records per buffer on in-process channels. */
  readonly bufferRecords: number;
  /** Flush partial buffers after this many ms; 0 = after every record; -1 = only when full. */
  readonly bufferTimeoutMs: number;
  readonly exclusiveCredits: number;
  readonly floatingCredits: number;
  /** Bytes per buffer on channels between processes (records are encoded as they are emitted). */
  readonly bufferBytes: number;
  /** The largest encoded record a channel between processes carries (TROUPE_RECORD_TOO_LARGE above). */
  readonly maxRecordBytes: number;
}

export const DEFAULT_NETWORK_CONFIG: NetworkConfig = {
  bufferRecords: 1024,
  bufferTimeoutMs: 100,
  exclusiveCredits: 2,
  floatingCredits: 8,
  bufferBytes: 32 * 1024,
  maxRecordBytes: 16 * 1024 * 1024,
};

export interface JobGraph {
  readonly jobId: JobId;
  readonly name: string;
  readonly maxParallelism: number;
  readonly network: NetworkConfig;
  readonly vertices: readonly JobVertex[];
  readonly edges: readonly JobEdge[];
  readonly checkpointing?: JobCheckpointing;
  readonly stateBackend?: StateBackendConfig;
  /** Default: exponential-delay when periodic checkpoints are enabled, none otherwise. */
  readonly restartStrategy?: RestartStrategyConfig;
  readonly restore?: RestoreSettings;
}

export function inputEdges(graph: JobGraph, vertex: VertexId): JobEdge[] {
  return graph.edges.filter((e) => e.target === vertex);
}

export function outputEdges(graph: JobGraph, vertex: VertexId): JobEdge[] {
  return graph.edges.filter((e) => e.source === vertex);
}

export function vertexById(graph: JobGraph, id: VertexId): JobVertex {
  const v = graph.vertices.find((x) => x.id === id);
  if (v === undefined) throw new Error(`no vertex ${id}`);
  return v;
}

/** Number of input channels a subtask of `edge.target` has on that edge. */
export function channelsOf(graph: JobGraph, edge: JobEdge): number {
  return edge.partitioner === 'forward' ? 1 : vertexById(graph, edge.source).parallelism;
}

/** Number of subpartitions a subtask of `edge.source` has on that edge. */
export function subpartitionsOf(graph: JobGraph, edge: JobEdge): number {
  return edge.partitioner === 'forward' ? 1 : vertexById(graph, edge.target).parallelism;
}
