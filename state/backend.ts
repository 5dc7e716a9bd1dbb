/**
 * What the runtime needs of a keyed state backend (`heap` or `sqlite`), and the one exchange format
 * both speak for snapshots and restores, so that a checkpoint of one backend restores into the other
 * and at another parallelism (key groups are the unit).
 *
 * Contract (both backends; test/state/keyed-backend-contract.ts checks it):
 *  1. State handles are synchronous. A backend that keeps state outside memory (sqlite) makes the
 *     keys of the next records resident first: the task calls `prefetch(keys)` before it processes
 *     them and waits when it returns a promise. `prefetch` returns undefined when nothing needs loading.
 *  2. `capture(full)` is the synchronous part of a snapshot: it fixes the content of the snapshot at
 *     the moment of the call, and resets change tracking. Changes made after it returns do not show
 *     in its result, however late `materialize()` runs. `full`: every key group of the range;
 *     otherwise the changes since the previous capture (upserts with their stored values, deletes).
 *  3. `restore(changes)` applies a full image (replacing the key groups it covers that lie in this
 *     backend's range) or a delta (upserting and deleting in those key groups); key groups outside
 *     the range are skipped. Restored content counts as changed for the next incremental capture.
 *  4. Stored values in a capture are the backend's stored form (TTL-wrapped where the state has TTL,
 *     arrays for lists, Maps for map state) and share no mutable container with the live state.
 */
import type { Clock } from '../core/clock.js';
import type { AggregatingState, AggregatingStateDescriptor } from './aggregating-state.js';
import type { KeyGroupRange, StateKey } from './key-groups.js';
import type { ListState, ListStateDescriptor } from './list-state.js';
import type { MapState, MapStateDescriptor } from './map-state.js';
import type { ReducingState, ReducingStateDescriptor } from './reducing-state.js';
import type { StateKind } from './state-descriptor.js';
import type { ValueState, ValueStateDescriptor } from './value-state.js';

export type StateBackendKind = 'heap' | 'sqlite';

export const KEYED_CHANGES_FORMAT = 'troupe-keyed-changes/1';

export interface KeyedStateInfoLike {
  readonly name: string;
  readonly kind: StateKind;
  readonly ttl: boolean;
}

export interface KeyGroupChanges {
  readonly keyGroup: number;
  readonly states: ReadonlyArray<{
    readonly name: string;
    /** [state key, stored value]: set the entry (the whole list / the whole map of that key). */
    readonly upserts: ReadonlyArray<readonly [StateKey, unknown]>;
    /** State keys whose entry is removed (deltas only; a full image has none). */
    readonly deletes: readonly StateKey[];
  }>;
}

export interface KeyedStateChanges {
  readonly format: typeof KEYED_CHANGES_FORMAT;
  readonly maxParallelism: number;
  /** The key groups this capture speaks for. */
  readonly range: KeyGroupRange;
  /** true: a full image (key groups of `range` not listed are empty); false: a delta. */
  readonly full: boolean;
  /** Every state registered at capture time. */
  readonly states: readonly KeyedStateInfoLike[];
  /** Ascending key groups; a full image may omit empty ones. */
  readonly keyGroups: readonly KeyGroupChanges[];
}

/** The result of `capture`: produce the changes, possibly reading asynchronously from a frozen view. */
export interface KeyedStateCapture {
  readonly full: boolean;
  /** The backend that captured (recorded in the snapshot handle); optional for compatibility. */
  readonly backend?: StateBackendKind;
  materialize(): Promise<KeyedStateChanges>;
  /**
   * Frees what the capture holds (a read transaction, copy-on-read protection of the heap) when
   * the snapshot is abandoned or once the materialized changes are encoded (writeKeyedSnapshot
   * releases). Idempotent.
   */
  release(): void;
}

export interface KeyedStateBackend {
  readonly kind: StateBackendKind;
  readonly maxParallelism: number;
  readonly range: KeyGroupRange;
  /** The clock of TTL timestamps. */
  readonly clock: Clock;
  setCurrentKey(key: unknown): void;
  getCurrentKey(): unknown;
  getValueState<V>(descriptor: ValueStateDescriptor<V>): ValueState<V>;
  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  getMapState<K, V>(descriptor: MapStateDescriptor<K, V>): MapState<K, V>;
  getReducingState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T>;
  getAggregatingState<IN, ACC, OUT>(descriptor: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT>;
  hasTtlState(): boolean;
  /** Removes expired TTL state (resident and stored); returns how many values were removed from memory. */
  cleanupExpired(now?: number): number;
  /** Contract 1. */
  prefetch(keys: Iterable<unknown>): Promise<void> | undefined;
  /** Contract 2. */
  capture(full: boolean): KeyedStateCapture;
  /** Contract 3. */
  restore(changes: KeyedStateChanges): Promise<void>;
  /** Closes files; the backend is unusable afterwards. Idempotent. */
  dispose(): Promise<void>;
}

export interface SqliteBackendOptions {
  /** Directory for the per-subtask databases (default: a fresh directory under the OS temp dir). */
  readonly dir?: string;
  /** Most entries kept in the write-back cache (default 100 000). */
  readonly cacheEntries?: number;
}

export interface StateBackendConfig {
  readonly kind: StateBackendKind;
  /** Incremental checkpoints: only what changed since the previous checkpoint is written. */
  readonly incremental: boolean;
  /** A full image at least every this many checkpoints (bounds restore time). Default 10. */
  readonly materializeEvery?: number;
  readonly sqlite?: SqliteBackendOptions;
}
