/**
 * Heap keyed state backend: per state name a StateTable, per key group a Map from state key to the
 * stored value. The current key is set per record by the keyed operator; each access is scoped to it.
 *
 * Stored forms (what entries() yields and snapshots carry; TtlValue = { value, timestamp }):
 *   value, reducing:  V                         with TTL: TtlValue<V>
 *   aggregating:      ACC                       with TTL: TtlValue<ACC>
 *   list:             V[] (never empty)         with TTL: TtlValue<V>[]
 *   map:              Map<StateKey, V> (never empty, user keys encoded by stateKeyOf)
 *                                               with TTL: Map<StateKey, TtlValue<V>>
 *
 * Invariants:
 *  1. A task only sets keys that belong to its key-group range (checked: a misrouted record is a
 *     protocol violation, not a silent state corruption).
 *  2. State of different names never aliases; one name is one kind, with or without TTL, for the
 *     life of the backend and across snapshots (a mismatch is refused, as Flink refuses it).
 *  3. The dirty set holds every key group whose content changed since the last mark() (or since
 *     creation): a snapshot of the dirty groups, restored over a snapshot taken at mark(), gives
 *     the current state.
 *  4. snapshotKeyGroups returns plain data (arrays, Maps, plain objects, user values) that shares
 *     no container with the live state; restoreKeyGroups(snapshotKeyGroups(r)) into any backend
 *     whose range covers r reproduces the state of r exactly. User values are shared, not copied:
 *     encode the snapshot before user code runs again (user code may modify a value in place).
 *  5. Restoring a key group replaces its content entirely; key groups outside this backend's range
 *     are skipped, so a rescaled subtask can be handed every snapshot that intersects its range.
 *  6. KeyedStateBackend (state/backend.ts, contracts 1-4): change tracking per state key starts at
 *     the first capture; before it there is no baseline, so capture(false) answers with a full image
 *     (capture.full is true) and writes pay nothing for tracking. A delta copies the changed entries
 *     at capture time (O(changed keys)); a full capture freezes every key group's Map, copied on the
 *     first write after it (state-table.ts, invariant 6), and lists the entries when materialized
 *     (O(key groups) at capture time). Materialized changes hold copies of lists and maps but share
 *     user values: until the capture is released, a read deep-copies an entry the capture may share
 *     before handing it out (state-table.ts, invariant 5), so in-place changes cannot reach it.
 *     Release the capture once its changes are encoded (writeKeyedSnapshot does). A value changed in
 *     place counts as a change once it is written back (update, put, add), as in Flink.
 */
import { systemClock, type Clock } from '../../core/clock.js';
import { TroupeError } from '../../core/errors.js';
import type { AggregatingState, AggregatingStateDescriptor } from '../aggregating-state.js';
import { KEYED_CHANGES_FORMAT, type KeyedStateBackend, type KeyedStateCapture, type KeyedStateChanges, type KeyedStateInfoLike, type KeyGroupChanges } from '../backend.js';
import { keyGroupFor, keyOfStateKey, stateKeyOf, type KeyGroupRange, type StateKey } from '../key-groups.js';
import type { ListState, ListStateDescriptor } from '../list-state.js';
import type { MapState, MapStateDescriptor } from '../map-state.js';
import type { ReducingState, ReducingStateDescriptor } from '../reducing-state.js';
import type { StateKind } from '../state-descriptor.js';
import type { ValueState, ValueStateDescriptor } from '../value-state.js';
import { StateHandleCache } from './state-handle-cache.js';
import { checkKeyedChanges, intersect } from '../snapshot/keyed-changes.js';
import { copyStored, StateTable, type KeyCursor, type TableScope } from './state-table.js';

export const KEYED_STATE_SNAPSHOT_FORMAT = 'troupe-heap-keyed/1';

export interface HeapKeyedStateBackendOptions {
  /** The clock of TTL timestamps (default: wall clock). */
  readonly clock?: Clock;
  /**
   * Track changed keys for incremental captures (default true). Off when every checkpoint is full:
   * the per-key sets then cost the record path for nothing (capture(false) answers with a full image).
   */
  readonly trackChanges?: boolean;
}

export interface KeyedStateInfo {
  readonly name: string;
  readonly kind: StateKind;
  readonly ttl: boolean;
}

export interface KeyedStateEntry {
  readonly keyGroup: number;
  readonly stateKey: StateKey;
  /** The key, decoded from the state key (an equal copy, see keyOfStateKey). */
  readonly key: unknown;
  /** The stored form (see the module header); do not modify it. */
  readonly value: unknown;
}

export interface KeyedStateSnapshot {
  readonly format: typeof KEYED_STATE_SNAPSHOT_FORMAT;
  readonly maxParallelism: number;
  /** Every state registered when the snapshot was taken, with entries in these groups or not. */
  readonly states: readonly KeyedStateInfo[];
  /** Every key group of the snapshot, ascending, empty ones included: restoring a group replaces it. */
  readonly keyGroups: readonly KeyGroupSnapshot[];
}

export interface KeyGroupSnapshot {
  readonly keyGroup: number;
  /** The states with entries in this group: [state key, stored value] pairs in insertion order. */
  readonly states: ReadonlyArray<{ readonly name: string; readonly entries: ReadonlyArray<readonly [StateKey, unknown]> }>;
}

/** One state's entries to put into a key group: [state key, stored value] pairs. */
interface StateUpserts {
  readonly name: string;
  readonly upserts: ReadonlyArray<readonly [StateKey, unknown]>;
}

export class HeapKeyedStateBackend implements KeyedStateBackend {
  readonly kind = 'heap' as const;
  readonly clock: Clock;
  private currentKey: unknown = undefined;
  private readonly cursor: KeyCursor = { index: -1, keyGroup: -1, stateKey: '' };
  private readonly tables = new Map<string, StateTable>();
  /** One handle per name: user code often calls getState for every record. */
  /** One handle per name: user code often calls getState for every record. */
  private readonly handles = new StateHandleCache((info) => this.tableFor(info));
  private readonly dirty: Uint8Array;
  private readonly scope: TableScope;
  /** Per-key change tracking is on (invariant 6). */
  private tracking = false;
  private readonly trackChanges: boolean;
  private disposed = false;

  constructor(
    readonly maxParallelism: number,
    readonly range: KeyGroupRange,
    options: HeapKeyedStateBackendOptions = {},
  ) {
    if (!Number.isInteger(range.start) || !Number.isInteger(range.end) || range.start < 0 || range.end < range.start || range.end >= maxParallelism) {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `key-group range ${range.start}-${range.end} is not inside [0, ${maxParallelism})`);
    }
    this.clock = options.clock ?? systemClock;
    this.trackChanges = options.trackChanges ?? true;
    this.dirty = new Uint8Array(range.end - range.start + 1);
    this.scope = { cursor: this.cursor, clock: this.clock, dirty: this.dirty, shield: 0 };
  }

  setCurrentKey(key: unknown): void {
    const group = keyGroupFor(key, this.maxParallelism);
    if (group < this.range.start || group > this.range.end) {
      throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', `key group ${group} is outside this subtask's range ${this.range.start}-${this.range.end}`);
    }
    this.currentKey = key;
    this.cursor.index = group - this.range.start;
    this.cursor.keyGroup = group;
    this.cursor.stateKey = stateKeyOf(key);
  }

  getCurrentKey(): unknown {
    return this.currentKey;
  }

  /** The key group of the current key; -1 before the first key. */
  getCurrentKeyGroup(): number {
    return this.cursor.keyGroup;
  }

  // ---- state handles ----

  getValueState<V>(descriptor: ValueStateDescriptor<V>): ValueState<V> {
    return this.handles.value(descriptor);
  }

  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> {
    return this.handles.list(descriptor);
  }

  getMapState<K, V>(descriptor: MapStateDescriptor<K, V>): MapState<K, V> {
    return this.handles.map(descriptor);
  }

  getReducingState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T> {
    return this.handles.reducing(descriptor);
  }

  getAggregatingState<IN, ACC, OUT>(descriptor: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT> {
    return this.handles.aggregating(descriptor);
  }

  private tableFor(info: KeyedStateInfoLike): StateTable {
    const table = this.tables.get(info.name);
    if (table === undefined) return this.createTable(info);
    checkCompatible(table, info);
    return table;
  }

  private createTable(info: KeyedStateInfo): StateTable {
    const table = new StateTable(info.name, info.kind, info.ttl, this.scope, this.dirty.length);
    if (this.tracking) table.changed = this.noKeySets();
    this.tables.set(info.name, table);
    return table;
  }

  // ---- introspection and TTL ----

  /** The states registered or restored so far, in registration order. */
  states(): KeyedStateInfo[] {
    return [...this.tables.values()].map((t) => ({ name: t.name, kind: t.kind, ttl: t.hasTtl }));
  }

  hasTtlState(): boolean {
    for (const t of this.tables.values()) if (t.hasTtl) return true;
    return false;
  }

  /** Removes every expired value, list element and map entry of all TTL states; returns how many. */
  cleanupExpired(now: number = this.clock.now()): number {
    let removed = 0;
    for (const t of this.tables.values()) removed += t.cleanupExpired(now);
    return removed;
  }

  /** Number of keys with state, per state name (metrics, tests). */
  sizes(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, t] of this.tables) {
      let n = 0;
      for (const g of t.groups) n += g?.size ?? 0;
      out[name] = n;
    }
    return out;
  }

  /** Every entry of one state in a key-group range (default: the whole range), by ascending key group. */
  *entries(stateName: string, range: KeyGroupRange = this.range): Generator<KeyedStateEntry> {
    this.checkRange(range);
    const table = this.tables.get(stateName);
    if (table === undefined) return;
    for (let g = range.start; g <= range.end; g++) {
      const group = table.groups[g - this.range.start];
      if (group === undefined) continue;
      for (const [stateKey, value] of group) yield { keyGroup: g, stateKey, key: keyOfStateKey(stateKey), value };
    }
  }

  // ---- change tracking ----

  /** Key groups changed since the last mark() (invariant 3), ascending. */
  dirtyKeyGroups(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.dirty.length; i++) if (this.dirty[i] === 1) out.push(this.range.start + i);
    return out;
  }

  /** Starts a new change period: nothing is dirty. */
  mark(): void {
    this.dirty.fill(0);
  }

  // ---- snapshot and restore ----

  /**
   * The key groups of `range` (default: this backend's range) as plain data; with `only`, just
   * those key groups (e.g. dirtyKeyGroups()), each of which must lie in `range`.
   */
  snapshotKeyGroups(range: KeyGroupRange = this.range, only?: Iterable<number>): KeyedStateSnapshot {
    this.checkRange(range);
    let groups: number[];
    if (only === undefined) {
      groups = Array.from({ length: range.end - range.start + 1 }, (_, i) => range.start + i);
    } else {
      groups = [...new Set(only)].sort((a, b) => a - b);
      for (const g of groups) {
        if (!Number.isInteger(g) || g < range.start || g > range.end) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `key group ${g} is outside the snapshot range ${range.start}-${range.end}`);
      }
    }
    const keyGroups = groups.map((keyGroup): KeyGroupSnapshot => {
      const states: Array<{ name: string; entries: Array<[StateKey, unknown]> }> = [];
      for (const table of this.tables.values()) {
        const group = table.groups[keyGroup - this.range.start];
        if (group === undefined || group.size === 0) continue;
        const entries: Array<[StateKey, unknown]> = [];
        for (const [k, v] of group) entries.push([k, copyStored(table.kind, v)]);
        states.push({ name: table.name, entries });
      }
      return { keyGroup, states };
    });
    return { format: KEYED_STATE_SNAPSHOT_FORMAT, maxParallelism: this.maxParallelism, states: this.states(), keyGroups };
  }

  /**
   * Replaces the content of every snapshot key group that lies in this backend's range (invariant 5)
   * and registers the snapshot's states; returns how many key groups were restored. Atomic: a
   * snapshot that does not fit changes nothing. Restored key groups are dirty.
   */
  restoreKeyGroups(snapshot: KeyedStateSnapshot): number {
    if (snapshot === null || typeof snapshot !== 'object' || snapshot.format !== KEYED_STATE_SNAPSHOT_FORMAT) {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `not a keyed state snapshot (format ${String((snapshot as { format?: unknown } | null)?.format)})`);
    }
    if (snapshot.maxParallelism !== this.maxParallelism) {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `the snapshot has max parallelism ${snapshot.maxParallelism}, this backend ${this.maxParallelism}: key groups cannot be mapped`);
    }
    const infos = new Map<string, KeyedStateInfo>();
    for (const info of snapshot.states) {
      const table = this.tables.get(info.name);
      if (table !== undefined) checkCompatible(table, info);
      infos.set(info.name, info);
    }
    const mine = snapshot.keyGroups.filter((g) => g.keyGroup >= this.range.start && g.keyGroup <= this.range.end);
    for (const g of mine) {
      for (const s of g.states) {
        if (!infos.has(s.name)) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `key group ${g.keyGroup} holds state '${s.name}', which the snapshot does not declare`);
      }
    }
    for (const info of infos.values()) if (!this.tables.has(info.name)) this.createTable(info);
    for (const g of mine) this.replaceGroup(g.keyGroup - this.range.start, g.states.map((s) => ({ name: s.name, upserts: s.entries })));
    return mine.length;
  }

  // ---- KeyedStateBackend: capture and restore (contracts 2-4 of state/backend.ts) ----

  /** Heap state is always resident (contract 1). */
  prefetch(_keys: Iterable<unknown>): undefined {
    return undefined;
  }

  /**
   * A full capture freezes the key groups' Maps (copy on write, state-table.ts invariant 6) and
   * lists their entries when materialized: its synchronous part is O(key groups). A delta copies the
   * changed entries at once: O(changed keys).
   */
  capture(full: boolean): KeyedStateCapture {
    this.checkOpen();
    const image = full || !this.tracking;
    const head = { format: KEYED_CHANGES_FORMAT, maxParallelism: this.maxParallelism, range: { start: this.range.start, end: this.range.end }, full: image, states: this.states() } as const;
    let build: () => KeyedStateChanges;
    let abandon = (): void => undefined;
    if (image) {
      const frozen = this.freeze();
      build = () => {
        const keyGroups = imageGroups(frozen, this.dirty.length, this.range.start);
        unfreeze(frozen);
        return { ...head, keyGroups };
      };
      abandon = () => unfreeze(frozen);
    } else {
      const changes: KeyedStateChanges = { ...head, keyGroups: this.changedGroups() };
      build = () => changes;
    }
    this.tracking = this.trackChanges;
    for (const table of this.tables.values()) {
      table.changed = this.tracking ? this.noKeySets() : null;
      table.unshared = null;
    }
    this.scope.shield = this.scope.shield! + 1;
    return new HeapCapture(image, build, abandon, () => {
      this.scope.shield = this.scope.shield! - 1;
      if (this.scope.shield === 0) for (const table of this.tables.values()) table.unshared = null;
    });
  }

  /** Every non-empty key-group Map of every state, frozen until unfreeze(). */
  private freeze(): FrozenGroup[] {
    const frozen: FrozenGroup[] = [];
    for (const table of this.tables.values()) {
      for (let index = 0; index < table.groups.length; index++) {
        const group = table.groups[index];
        if (group === undefined || group.size === 0) continue;
        table.frozen[index] = table.frozen[index]! + 1;
        frozen.push({ table, index, group });
      }
    }
    return frozen;
  }

  /** Contract 3; atomic: changes that do not check out, or do not fit the registered states, change nothing. */
  async restore(changes: KeyedStateChanges): Promise<void> {
    this.checkOpen();
    const checked = checkKeyedChanges(changes, this.maxParallelism);
    for (const info of checked.states) {
      const table = this.tables.get(info.name);
      if (table !== undefined) checkCompatible(table, info);
    }
    for (const info of checked.states) if (!this.tables.has(info.name)) this.createTable(info);
    const covered = intersect(checked.range, this.range);
    if (covered === null) return;
    if (checked.full) {
      const listed = new Map(checked.keyGroups.map((g) => [g.keyGroup, g.states]));
      for (let g = covered.start; g <= covered.end; g++) this.replaceGroup(g - this.range.start, listed.get(g) ?? []);
      return;
    }
    for (const g of checked.keyGroups) {
      if (g.keyGroup < covered.start || g.keyGroup > covered.end) continue;
      this.applyDelta(g.keyGroup - this.range.start, g);
    }
  }

  /** Drops all state; capture and restore refuse afterwards. */
  async dispose(): Promise<void> {
    this.disposed = true;
    this.tables.clear();
    this.handles.clear();
  }

  /** The entries of the keys changed since the last capture: upserts where they exist, deletes where not. */
  private changedGroups(): KeyGroupChanges[] {
    const tables = [...this.tables.values()];
    const out: KeyGroupChanges[] = [];
    for (let index = 0; index < this.dirty.length; index++) {
      let states: KeyGroupChanges['states'][number][] | undefined;
      for (const table of tables) {
        const keys = table.changed?.[index];
        if (keys === undefined || keys.size === 0) continue;
        const group = table.groups[index];
        const upserts: Array<readonly [StateKey, unknown]> = [];
        const deletes: StateKey[] = [];
        for (const k of keys) {
          const stored = group?.get(k);
          if (stored === undefined) deletes.push(k);
          else upserts.push([k, copyStored(table.kind, stored)]);
        }
        (states ??= []).push({ name: table.name, upserts, deletes });
      }
      if (states !== undefined) out.push({ keyGroup: this.range.start + index, states });
    }
    return out;
  }

  private noKeySets(): Array<Set<StateKey> | undefined> {
    return new Array<Set<StateKey> | undefined>(this.dirty.length).fill(undefined);
  }

  /** Replaces the content of key-group index `index` (a state may come in several parts); every key there before or after counts as changed. */
  private replaceGroup(index: number, states: readonly StateUpserts[]): void {
    for (const table of this.tables.values()) {
      const old = table.groups[index];
      if (old !== undefined && table.changed !== null) for (const k of old.keys()) table.touch(index, k);
      table.groups[index] = undefined;
      table.frozen[index] = 0;
    }
    for (const s of states) {
      if (s.upserts.length === 0) continue;
      const table = this.tables.get(s.name)!;
      const group = (table.groups[index] ??= new Map());
      const copy = table.kind === 'list' || table.kind === 'map';
      for (const [k, v] of s.upserts) {
        group.set(k, copy ? copyStored(table.kind, v) : v);
        if (table.changed !== null) table.touch(index, k);
      }
    }
    this.dirty[index] = 1;
  }

  private applyDelta(index: number, changes: KeyGroupChanges): void {
    for (const s of changes.states) {
      const table = this.tables.get(s.name)!;
      if (table.frozen[index] !== 0) table.thaw(index);
      if (s.upserts.length > 0) {
        const group = (table.groups[index] ??= new Map());
        const copy = table.kind === 'list' || table.kind === 'map';
        for (const [k, v] of s.upserts) {
          group.set(k, copy ? copyStored(table.kind, v) : v);
          if (table.changed !== null) table.touch(index, k);
        }
      }
      const group = table.groups[index];
      for (const k of s.deletes) if (group?.delete(k) === true && table.changed !== null) table.touch(index, k);
    }
    this.dirty[index] = 1;
  }

  private checkOpen(): void {
    if (this.disposed) throw new TroupeError('TROUPE_INVALID_ARGUMENT', 'the keyed state backend was disposed');
  }

  private checkRange(range: KeyGroupRange): void {
    if (range.start < this.range.start || range.end > this.range.end || range.end < range.start) {
      throw new TroupeError('TROUPE_INVALID_ARGUMENT', `key-group range ${range.start}-${range.end} is not inside this backend's range ${this.range.start}-${this.range.end}`);
    }
  }
}

/** A key group's Map held by a pending full capture. */
interface FrozenGroup {
  readonly table: StateTable;
  readonly index: number;
  readonly group: Map<StateKey, unknown>;
}

/** The full image of frozen groups, by ascending key group, states in registration order; containers copied. */
function imageGroups(frozen: readonly FrozenGroup[], groupCount: number, start: number): KeyGroupChanges[] {
  const byIndex = new Array<FrozenGroup[] | undefined>(groupCount).fill(undefined);
  for (const f of frozen) (byIndex[f.index] ??= []).push(f);
  const out: KeyGroupChanges[] = [];
  byIndex.forEach((groups, index) => {
    if (groups === undefined) return;
    const states = groups.map(({ table, group }) => ({
      name: table.name,
      upserts: table.kind === 'list' || table.kind === 'map' ? Array.from(group, ([k, v]) => [k, copyStored(table.kind, v)] as const) : Array.from(group),
      deletes: [],
    }));
    out.push({ keyGroup: start + index, states });
  });
  return out;
}

/** The capture no longer needs these Maps; a Map that was thawed (or replaced) meanwhile is not live any more. */
function unfreeze(frozen: readonly FrozenGroup[]): void {
  for (const { table, index, group } of frozen) if (table.groups[index] === group && table.frozen[index]! > 0) table.frozen[index] = table.frozen[index]! - 1;
}

/**
 * A heap capture (contract 2): a delta built at capture time, or a full image read from frozen
 * key-group Maps when first materialized. Until released, the backend copies on read what the
 * capture may share (state-table.ts, invariant 5).
 */
class HeapCapture implements KeyedStateCapture {
  readonly backend = 'heap' as const;
  private changes: KeyedStateChanges | null = null;
  private released = false;

  constructor(
    readonly full: boolean,
    private build: (() => KeyedStateChanges) | null,
    private readonly abandon: () => void,
    private readonly onRelease: () => void,
  ) {}

  materialize(): Promise<KeyedStateChanges> {
    if (this.released) return Promise.reject(new TroupeError('TROUPE_INVALID_ARGUMENT', 'the keyed state capture was released before it was materialized'));
    if (this.build !== null) {
      this.changes = this.build();
      this.build = null;
    }
    return Promise.resolve(this.changes!);
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.changes = null;
    if (this.build !== null) {
      this.build = null;
      this.abandon();
    }
    this.onRelease();
  }
}

function checkCompatible(table: StateTable, info: KeyedStateInfoLike): void {
  if (table.kind !== info.kind) {
    throw new TroupeError('TROUPE_INVALID_ARGUMENT', `state '${info.name}' is ${article(table.kind)} ${table.kind} state; it cannot be used as ${article(info.kind)} ${info.kind} state`);
  }
  if (table.hasTtl !== info.ttl) {
    throw new TroupeError('TROUPE_INVALID_ARGUMENT', `state '${info.name}' is ${table.hasTtl ? 'with' : 'without'} TTL; it cannot be used ${info.ttl ? 'with' : 'without'} TTL (stored values differ)`);
  }
}

function article(kind: StateKind): string {
  return kind === 'aggregating' ? 'an' : 'a';
}
