/**
 * User code of a job, found by stable operator id. The job graph (JSON) says what runs where;
 * this says which functions run. In embedded mode the client hands the registry to the cluster
 * in-process; a remote TaskExecutor rebuilds it by loading the job module.
 */
import type { OperatorId, JobId } from '../../core/ids.js';
import type {
  FilterFunction,
  FlatMapFunction,
  KeyedProcessFunction,
  KeySelector,
  MapFunction,
  ProcessFunction,
  ReduceFunction,
} from '../../api/datastream/functions.js';
import type { Sink } from '../../api/datastream/sink.js';
import type { Source } from '../../api/datastream/source.js';

type Fn<A extends unknown[], R> = (...args: A) => R;

export type OperatorUserCode =
  | { readonly kind: 'source'; readonly source: Source<unknown> }
  | { readonly kind: 'map'; readonly fn: MapFunction<unknown, unknown> }
  | { readonly kind: 'filter'; readonly fn: FilterFunction<unknown> }
  | { readonly kind: 'flat-map'; readonly fn: FlatMapFunction<unknown, unknown> }
  | { readonly kind: 'process'; readonly fn: ProcessFunction<unknown, unknown> }
  | { readonly kind: 'keyed-process'; readonly fn: KeyedProcessFunction<unknown, unknown, unknown>; readonly keySelector: KeySelector<unknown, unknown> }
  | { readonly kind: 'reduce'; readonly fn: ReduceFunction<unknown>; readonly keySelector: KeySelector<unknown, unknown> }
  | { readonly kind: 'sink'; readonly sink: Sink<unknown> };

export type JobUserCode = ReadonlyMap<OperatorId, OperatorUserCode>;

export function keySelectorOf(code: OperatorUserCode | undefined): Fn<[unknown], unknown> | undefined {
  return code !== undefined && (code.kind === 'keyed-process' || code.kind === 'reduce') ? code.keySelector : undefined;
}

/** Where a TaskExecutor finds the user code of a job. */
export interface UserCodeResolver {
  resolve(jobId: JobId): JobUserCode | undefined | Promise<JobUserCode | undefined>;
  /** The job ended on this TaskExecutor: its code may be dropped. */
  release?(jobId: JobId): void;
}

/** In-process blob store for embedded mode: the client registers, TaskExecutors resolve. */
export class InProcessUserCodeStore implements UserCodeResolver {
  private readonly jobs = new Map<JobId, JobUserCode>();
  register(jobId: JobId, code: JobUserCode): void {
    this.jobs.set(jobId, code);
  }
  release(jobId: JobId): void {
    this.jobs.delete(jobId);
  }
  resolve(jobId: JobId): JobUserCode | undefined {
    return this.jobs.get(jobId);
  }
}
