/**
 * Operator (non-keyed) list state, for sources (split offsets) and sinks (pending transactions):
 * each parallel instance holds a list; on rescale the lists of all instances are pooled and split
 * again (Flink's split-distribute ListState and RoundRobinOperatorStateRepartitioner).
 *
 * Invariants:
 *  1. Redistribution loses and duplicates nothing: the concatenation of the new lists is the
 *     concatenation of the old ones, in order.
 *  2. New list sizes differ by at most one; for one state, the first (total mod p) instances get
 *     the larger share. Across the states of a snapshot the extra elements rotate, as in Flink, so
 *     that several small states do not all land on instance 0.
 *  3. Snapshots are plain data that share no array with the live state.
 */
import { TroupeError } from '../core/errors.js';

export interface OperatorListState<T> {
  /** A copy of the elements; [] when there are none. */
  get(): T[];
  add(value: T): void;
  addAll(values: Iterable<T>): void;
  /** Replaces the list. */
  update(values: Iterable<T>): void;
  clear(): void;
}

/** One parallel instance's operator state: list name → elements. */
export interface OperatorStateSnapshot {
  readonly lists: ReadonlyArray<{ readonly name: string; readonly elements: readonly unknown[] }>;
}

export class OperatorStateBackend {
  private readonly lists = new Map<string, unknown[]>();
  private readonly handles = new Map<string, OperatorListState<unknown>>();

  getListState<T>(name: string): OperatorListState<T> {
    if (typeof name !== 'string' || name === '') throw new TroupeError('TROUPE_INVALID_ARGUMENT', `operator list state needs a non-empty name, got ${String(name)}`);
    let handle = this.handles.get(name);
    if (handle === undefined) {
      const lists = this.lists;
      const list = (): unknown[] => {
        let l = lists.get(name);
        if (l === undefined) lists.set(name, (l = []));
        return l;
      };
      handle = {
        get: () => (lists.get(name) ?? []).slice(),
        add: (value) => void list().push(value),
        addAll: (values) => {
          const l = list();
          for (const v of checkedIterable(values, name)) l.push(v);
        },
        update: (values) => void lists.set(name, [...checkedIterable(values, name)]),
        clear: () => void lists.set(name, []),
      };
      this.handles.set(name, handle);
    }
    return handle as OperatorListState<T>;
  }

  /** Names of the lists that exist (registered or restored). */
  names(): string[] {
    return [...new Set([...this.lists.keys(), ...this.handles.keys()])];
  }

  snapshot(): OperatorStateSnapshot {
    return { lists: [...this.lists].map(([name, elements]) => ({ name, elements: elements.slice() })) };
  }

  /** Replaces every list the snapshot names; lists it does not name are left as they are. */
  restore(snapshot: OperatorStateSnapshot): void {
    for (const { name, elements } of snapshot.lists) this.lists.set(name, elements.slice());
  }
}

function checkedIterable<T>(values: Iterable<T>, name: string): Iterable<T> {
  if (values === null || typeof (values as { [Symbol.iterator]?: unknown })?.[Symbol.iterator] !== 'function') {
    throw new TroupeError('TROUPE_INVALID_ARGUMENT', `operator list state '${name}': expected an iterable of values`);
  }
  return values;
}

/**
 * Split-redistribute of one list state: the old instances' lists, in instance order, become
 * `newParallelism` contiguous slices (invariants 1 and 2). `firstLarger` is the instance that gets
 * the first larger share (the rotation across states; 0 for a single state).
 */
export function redistributeOperatorState<T>(states: ReadonlyArray<readonly T[]>, newParallelism: number, firstLarger = 0): T[][] {
  checkParallelism(newParallelism);
  const all: T[] = [];
  for (const list of states) for (const e of list) all.push(e);
  return splitRoundRobin(all, newParallelism, firstLarger).slices;
}

/**
 * Redistributes whole snapshots (every list by name) from the old instances to `newParallelism`
 * new ones, rotating the larger shares across lists in name order (invariant 2).
 */
export function redistributeOperatorStateSnapshots(snapshots: readonly OperatorStateSnapshot[], newParallelism: number): OperatorStateSnapshot[] {
  checkParallelism(newParallelism);
  const byName = new Map<string, unknown[]>();
  for (const snapshot of snapshots) {
    for (const { name, elements } of snapshot.lists) {
      let all = byName.get(name);
      if (all === undefined) byName.set(name, (all = []));
      for (const e of elements) all.push(e);
    }
  }
  const out = Array.from({ length: newParallelism }, () => [] as Array<{ name: string; elements: unknown[] }>);
  let start = 0;
  for (const name of [...byName.keys()].sort()) {
    const split = splitRoundRobin(byName.get(name)!, newParallelism, start);
    split.slices.forEach((elements, i) => out[i]!.push({ name, elements }));
    start = split.nextFirstLarger;
  }
  return out.map((lists) => ({ lists }));
}

/** Flink's round-robin split: instances from `firstLarger` on take base+1 while the remainder lasts. */
function splitRoundRobin<T>(all: readonly T[], p: number, firstLarger: number): { slices: T[][]; nextFirstLarger: number } {
  const base = Math.floor(all.length / p);
  let remainder = all.length % p;
  const sizes = new Array<number>(p).fill(base);
  let next = firstLarger % p;
  for (let i = 0; i < p; i++) {
    const instance = (i + firstLarger) % p;
    if (remainder > 0) {
      sizes[instance] = base + 1;
      remainder--;
      if (remainder === 0) next = (instance + 1) % p;
    }
  }
  const slices: T[][] = [];
  let offset = 0;
  for (let i = 0; i < p; i++) {
    slices.push(all.slice(offset, offset + sizes[i]!));
    offset += sizes[i]!;
  }
  return { slices, nextFirstLarger: next };
}

function checkParallelism(p: number): void {
  if (!Number.isInteger(p) || p < 1) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `new parallelism must be a positive integer, got ${String(p)}`);
}
