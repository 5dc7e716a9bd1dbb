/**
 * Transformations → job graph (+ user code by operator id). Pure.
 *
 * Chaining (Flink's rule): an operator joins its input's chain when it has exactly one input,
 * the edge is forward (explicit, or implicit between equal parallelisms), the parallelisms are
 * equal, and neither side disabled chaining.
 *
 * Invariants:
 *  1. Operator ids are the user's uid, else `${kind}-${creation index}`: the same job module
 *     builds the same ids in every process.
 *  2. A job without a sink is rejected (TROUPE_JOB_HAS_NO_SINK).
 *  3. Every parallelism lies in [1, maxParallelism] (TROUPE_INVALID_PARALLELISM).
 */
import { TroupeError } from '../../core/errors.js';
import type { JobId, OperatorId, VertexId } from '../../core/ids.js';
import type { JobCheckpointing, JobEdge, JobGraph, JobVertex, NetworkConfig, OperatorSpec, PartitionerKind, RestoreSettings } from '../../core/job-graph.js';
import type { RestartStrategyConfig } from '../../actors/job-master/restart-strategy.js';
import type { StateBackendConfig } from '../../state/backend.js';
import type { JobUserCode, OperatorUserCode } from '../../actors/task/user-code.js';
import { operatorIdOf, type OperatorTransformation, type Transformation } from './transformation.js';

export interface BuildOptions {
  readonly jobId: JobId;
  readonly name: string;
  readonly defaultParallelism: number;
  readonly maxParallelism: number;
  readonly network: NetworkConfig;
  readonly checkpointing?: JobCheckpointing;
  readonly stateBackend?: StateBackendConfig;
  readonly restartStrategy?: RestartStrategyConfig;
  readonly restore?: RestoreSettings;
}

interface StreamEdge {
  readonly from: OperatorTransformation;
  readonly to: OperatorTransformation;
  readonly partitioner: PartitionerKind | undefined;
}

export function validateParallelism(p: unknown, maxParallelism: number, what: string): number {
  if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > maxParallelism) {
    throw new TroupeError('TROUPE_INVALID_PARALLELISM', `${what}: parallelism must be an integer between 1 and the max parallelism ${maxParallelism}, got ${String(p)}`, {
      details: { parallelism: p, maxParallelism },
    });
  }
  return p;
}

export function buildJobGraph(sinks: readonly Transformation[], all: readonly Transformation[], options: BuildOptions): { graph: JobGraph; userCode: JobUserCode } {
  const operators = all.filter((t): t is OperatorTransformation => t.type === 'operator').sort((a, b) => a.id - b.id);
  if (!operators.some((t) => t.code.kind === 'sink') || sinks.length === 0) {
    throw new TroupeError('TROUPE_JOB_HAS_NO_SINK', `job '${options.name}' has no sink: add sinkTo(...), print() or executeAndCollect(...)`);
  }
  // Keep only operators that lead to a sink (dangling branches compute nothing observable).
  const needed = new Set<OperatorTransformation>();
  const visit = (t: Transformation): void => {
    if (t.type === 'operator') {
      if (needed.has(t)) return;
      needed.add(t);
      t.inputs.forEach(visit);
    } else if (t.type === 'partition') visit(t.input);
    else t.inputs.forEach(visit);
  };
  sinks.forEach(visit);
  const ops = operators.filter((o) => needed.has(o));

  const parallelism = new Map<OperatorTransformation, number>();
  const ids = new Map<OperatorTransformation, OperatorId>();
  const seen = new Set<string>();
  for (const op of ops) {
    let p = op.parallelism ?? options.defaultParallelism;
    if (op.code.kind === 'source' && op.parallelism === undefined && op.code.source.maxParallelism !== undefined) {
      p = Math.min(p, op.code.source.maxParallelism);
    }
    parallelism.set(op, validateParallelism(p, options.maxParallelism, `operator '${op.name}'`));
    if (op.code.kind === 'source' && op.code.source.maxParallelism !== undefined && p > op.code.source.maxParallelism) {
      throw new TroupeError('TROUPE_INVALID_PARALLELISM', `source '${op.name}' supports at most parallelism ${op.code.source.maxParallelism}, got ${p}`);
    }
    const id = operatorIdOf(op);
    if (seen.has(id)) throw new TroupeError('TROUPE_INVALID_JOB_GRAPH', `operator id '${id}' is used twice; uids must be unique within a job`);
    seen.add(id);
    ids.set(op, id as OperatorId);
  }

  // Resolve virtual nodes into edges between operators.
  const edges: StreamEdge[] = [];
  const resolve = (t: Transformation, to: OperatorTransformation, partitioner: PartitionerKind | undefined, keyed: boolean): void => {
    if (t.type === 'operator') {
      edges.push({ from: t, to, partitioner });
      return;
    }
    if (t.type === 'union') {
      t.inputs.forEach((i) => resolve(i, to, partitioner, keyed));
      return;
    }
    if (partitioner !== undefined && partitioner !== t.partitioner) {
      // the partitioning closest to the consumer wins, as in Flink
      resolve(t.input, to, partitioner, keyed);
      return;
    }
    resolve(t.input, to, t.partitioner, keyed || t.partitioner === 'hash');
  };
  for (const op of ops) op.inputs.forEach((i) => resolve(i, op, undefined, false));

  const concrete = (e: StreamEdge): PartitionerKind => {
    if (e.partitioner !== undefined) return e.partitioner;
    return parallelism.get(e.from) === parallelism.get(e.to) ? 'forward' : 'rebalance';
  };
  for (const e of edges) {
    if (concrete(e) === 'forward' && parallelism.get(e.from) !== parallelism.get(e.to)) {
      throw new TroupeError('TROUPE_INVALID_JOB_GRAPH', `forward() from '${e.from.name}' (parallelism ${parallelism.get(e.from)}) to '${e.to.name}' (parallelism ${parallelism.get(e.to)}) would change parallelism; use rebalance()`);
    }
    if (concrete(e) === 'hash' && e.to.code.kind !== 'reduce' && e.to.code.kind !== 'keyed-process') {
      throw new TroupeError('TROUPE_INVALID_JOB_GRAPH', `keyed stream consumed by '${e.to.name}', which is not a keyed operator`);
    }
  }

  // Chains.
  const inputsOf = (op: OperatorTransformation): StreamEdge[] => edges.filter((e) => e.to === op);
  const chainOf = new Map<OperatorTransformation, OperatorTransformation[]>();
  for (const op of ops) {
    const ins = inputsOf(op);
    const only = ins.length === 1 ? ins[0]! : undefined;
    if (only !== undefined && concrete(only) === 'forward' && op.chainable && only.from.chainable && op.code.kind !== 'source') {
      const chain = chainOf.get(only.from)!;
      chain.push(op);
      chainOf.set(op, chain);
    } else {
      chainOf.set(op, [op]);
    }
  }
  const chains = [...new Set(chainOf.values())];
  const vertexIdOf = (op: OperatorTransformation): VertexId => ids.get(chainOf.get(op)![0]!)! as string as VertexId;

  const jobEdges: JobEdge[] = [];
  const outEdgesOf = new Map<OperatorTransformation, string[]>();
  let edgeIndex = 0;
  for (const e of edges) {
    if (chainOf.get(e.from) === chainOf.get(e.to)) continue;
    const id = `e${edgeIndex++}`;
    const partitioner = concrete(e);
    jobEdges.push({
      id,
      source: vertexIdOf(e.from),
      sourceOperator: ids.get(e.from)!,
      target: vertexIdOf(e.to),
      partitioner,
      ...(partitioner === 'hash' ? { keyedBy: ids.get(e.to)! } : {}),
    });
    const list = outEdgesOf.get(e.from) ?? [];
    list.push(id);
    outEdgesOf.set(e.from, list);
  }

  const vertices: JobVertex[] = chains.map((chain) => {
    const specs: OperatorSpec[] = chain.map((op) => ({
      id: ids.get(op)!,
      name: op.name,
      kind: op.code.kind,
      outEdges: outEdgesOf.get(op) ?? [],
      chainedOutputs: edges.filter((e) => e.from === op && chain.includes(e.to)).map((e) => chain.indexOf(e.to)),
    }));
    return {
      id: vertexIdOf(chain[0]!),
      name: chain.map((op) => op.name).join(' -> '),
      parallelism: parallelism.get(chain[0]!)!,
      maxParallelism: options.maxParallelism,
      operators: specs,
    };
  });

  const userCode = new Map<OperatorId, OperatorUserCode>();
  for (const op of ops) userCode.set(ids.get(op)!, op.code);

  return {
    graph: {
      jobId: options.jobId,
      name: options.name,
      maxParallelism: options.maxParallelism,
      network: options.network,
      vertices,
      edges: jobEdges,
      ...(options.checkpointing !== undefined ? { checkpointing: options.checkpointing } : {}),
      ...(options.stateBackend !== undefined ? { stateBackend: options.stateBackend } : {}),
      ...(options.restartStrategy !== undefined ? { restartStrategy: options.restartStrategy } : {}),
      ...(options.restore !== undefined ? { restore: options.restore } : {}),
    },
    userCode,
  };
}
