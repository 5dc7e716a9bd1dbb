/** What the DataStream API records: a DAG of transformations, turned into a job graph on execute. */
import type { PartitionerKind } from '../../core/job-graph.js';
import type { KeySelector } from './functions.js';
import type { OperatorUserCode } from '../../actors/task/user-code.js';

interface Base {
  /** Creation order within the environment: the basis of generated operator ids. */
  readonly id: number;
  name: string;
  uid: string | undefined;
  /** undefined: the environment's default parallelism. */
  parallelism: number | undefined;
}

export interface OperatorTransformation extends Base {
  readonly type: 'operator';
  readonly code: OperatorUserCode;
  readonly inputs: readonly Transformation[];
  readonly chainable: boolean;
}

/** Virtual: changes how records reach the next operator (keyBy, rebalance, broadcast, forward). */
export interface PartitionTransformation extends Base {
  readonly type: 'partition';
  readonly partitioner: PartitionerKind;
  readonly keySelector?: KeySelector<unknown, unknown>;
  readonly input: Transformation;
}

/** Virtual: several streams read as one. */
export interface UnionTransformation extends Base {
  readonly type: 'union';
  readonly inputs: readonly Transformation[];
}

export type Transformation = OperatorTransformation | PartitionTransformation | UnionTransformation;

/** The stable operator id (job-graph-builder.ts, invariant 1): the uid, else kind and creation index. */
export function operatorIdOf(t: Transformation): string {
  return t.uid ?? (t.type === 'operator' ? `${t.code.kind}-${t.id}` : `${t.type}-${t.id}`);
}

/** A new operator transformation with the environment's defaults (no uid, default parallelism). */
export function operatorTransformation(id: number, name: string, code: OperatorUserCode, inputs: readonly Transformation[]): OperatorTransformation {
  return { type: 'operator', id, name, uid: undefined, parallelism: undefined, code, inputs, chainable: true };
}
