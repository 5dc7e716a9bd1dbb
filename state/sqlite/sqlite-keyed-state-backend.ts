/**
 * SQLite keyed state backend (Flink's RocksDB backend): one SQLite file per subtask holds the
 * state; a write-back cache of recently used keys serves the synchronous state handles, so the
 * record path never waits on SQLite per record, and state larger than memory works.
 *
 * The cache. Per state a StateTable (the heap backend's, with its handle classes, so semantics and
 * TTL are the heap's exactly) holds the values of the resident keys. A key is resident with all
 * states at once: loading a key reads the rows of every state. A state registered later is new
 * (no stored rows), and a restore that brings states empties the cache, so "resident" never needs
 * to be per state. An Entry per resident key carries its LRU position (the `resident` Map's order),
 * the states to write back (`dirty`) and the states changed since the last capture (`changed`), as
 * bit masks by state id.
 *
 * Invariants:
 *  1. Store order (sqlite-store.ts, invariant 1) + write-back before eviction: the store, after
 *     every operation queued so far, holds the current value of every key that is not dirty in the
 *     cache. A load queued now therefore sees the current value of a non-resident key.
 *  2. State handles act only on the current key, and only when it is resident and loaded. A key
 *     that is not is "not prefetched": its cursor points at a poisoned slot whose every access
 *     throws TROUPE_PROTOCOL_VIOLATION, instead of answering undefined for a value the store may
 *     hold. Exception: while the store has never held a row, every key is known to have no state
 *     and becomes resident on setCurrentKey.
 *  3. Change tracking per key: StateTable marks the current key's key group in its state's own
 *     dirty array; setCurrentKey (and every bulk operation) first folds those flags into the
 *     previous current entry's masks, so between two folds only the current key can be flagged.
 *  4. The keys given to the last two prefetch calls, keys being loaded and the current key are
 *     never evicted (keys set without a prefetch count as given to the latest call). Eviction
 *     takes least recently prefetched keys down to 90% of cacheEntries, encodes the dirty ones into
 *     one write batch (synchronously: the bytes are the values at that moment) and drops them.
 *     A prefetch queues its load before that write, so records wait for their loads and, through
 *     store order, for the previous prefetch's write-back at most; when queued writes still exceed
 *     cacheEntries rows, prefetch returns a promise (backpressure). Memory stays bounded.
 *  5. Changes since the last capture: `changed` masks of resident entries, plus a map of evicted
 *     changed keys (bounded by 2 × cacheEntries; past that, and after a full restore, the next
 *     capture is full — KeyedStateCapture.full says so).
 *
 * Captures (contract 2). The synchronous part folds the current key, encodes every dirty entry
 * into one write batch (the values as of the call) and queues it, then queues an operation that
 * opens a store snapshot (a read transaction on another connection). By invariant 1 and store
 * order, the snapshot sees the flush and everything before it, and nothing queued after it:
 * exactly the state at the call. Records processed later only queue later writes. A full capture
 * scans the snapshot; a delta takes the changed keys' values from the flush batch (still in memory)
 * or, for keys written back earlier, from the snapshot. Operations queued before the snapshot that
 * change state (TTL sweeps, loads that clean up) report their changes to the captures still
 * waiting for their snapshot ("late changes"), so a delta matches the snapshot it reads. The
 * snapshot is skipped when the flush holds every value a delta needs and no such operation is
 * queued. Cost: a capture writes back the dirty cache (work eviction would do anyway); loads
 * queued after it wait for that write and the snapshot's opening, not for the read.
 *
 * TTL. The handles clean up lazily on read, as on the heap. cleanupExpired(now) takes effect at
 * the call: it cleans the resident values at once; loads already queued clean what they load
 * (writing the cleaned rows back) before any record sees it; and a sweep queued now cleans the
 * next SWEEP_ROWS stored rows of keys not loaded (a cursor goes round the table, Flink's
 * incremental cleanup), so a table larger than that is swept over several calls.
 *
 * Unlike the heap, and like Flink's RocksDB backend, a stored object modified in place without
 * update()/put() is not written back: the change lives only until the key is evicted.
 */
import { decodeValue, encodeValue } from '../../actors/network/record-codec.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { TroupeError } from '../../core/errors.js';
import type { AggregatingState, AggregatingStateDescriptor } from '../aggregating-state.js';
import { type KeyedStateBackend, type KeyedStateCapture, type KeyedStateChanges, type KeyedStateInfoLike, type SqliteBackendOptions } from '../backend.js';
import { StateHandleCache } from '../heap/state-handle-cache.js';
import { StateTable, type KeyCursor } from '../heap/state-table.js';
import { keyGroupFor, stateKeyOf, type KeyGroupRange, type StateKey } from '../key-groups.js';
import type { ListState, ListStateDescriptor } from '../list-state.js';
import type { MapState, MapStateDescriptor } from '../map-state.js';
import type { ReducingState, ReducingStateDescriptor } from '../reducing-state.js';
import type { StateKind } from '../state-descriptor.js';
import type { ValueState, ValueStateDescriptor } from '../value-state.js';
import { checkKeyedChanges, intersect } from '../snapshot/keyed-changes.js';
import { withoutExpired } from './expire.js';
import { groupBound, keyBlob, keyGroupOfBlob, stateKeyOfBlob } from './key-blob.js';
import { SqliteCapture, type FlushedValues } from './sqlite-capture.js';
import { batchRows, emptyBatch, SqliteStore, type StoreSnapshot, type WriteBatch } from './sqlite-store.js';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const DEFAULT_CACHE_ENTRIES = 100_000;
/** Stored rows looked at by the TTL sweep of one cleanupExpired call. */
const SWEEP_ROWS = 20_000;
const SWEEP_START: readonly [Buffer, number] = [Buffer.alloc(0), -1];

export interface SqliteKeyedStateBackendOptions extends SqliteBackendOptions {
  readonly maxParallelism: number;
  readonly range: KeyGroupRange;
  /** The database file is `<dir>/<name>.sqlite` (e.g. `<jobId>-<operator>-<subtask>`); other characters than [A-Za-z0-9._-] become `_`. Default 'keyed-state'. */
  readonly name?: string;
  /** The clock of TTL timestamps (default: wall clock). */
  readonly clock?: Clock;
}

/** Opens a backend on a fresh database file (a stale file of the same name is replaced). */
export async function openSqliteKeyedStateBackend(options: SqliteKeyedStateBackendOptions): Promise<SqliteKeyedStateBackend> {
  const { maxParallelism, range } = options;
  if (!Number.isInteger(maxParallelism) || maxParallelism < 1 || maxParallelism > 32768) {
    throw new TroupeError('TROUPE_INVALID_ARGUMENT', `max parallelism ${String(maxParallelism)} is not an integer in [1, 32768]`);
  }
  if (range === null || typeof range !== 'object' || !Number.isInteger(range.start) || !Number.isInteger(range.end) || range.start < 0 || range.end < range.start || range.end >= maxParallelism) {
    throw new TroupeError('TROUPE_INVALID_ARGUMENT', `key-group range ${String(range?.start)}-${String(range?.end)} is not inside [0, ${maxParallelism})`);
  }
  const cacheEntries = options.cacheEntries ?? DEFAULT_CACHE_ENTRIES;
  if (!Number.isInteger(cacheEntries) || cacheEntries < 1) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `cacheEntries must be a positive integer, got ${String(cacheEntries)}`);
  const name = (options.name ?? 'keyed-state').replace(/[^A-Za-z0-9._-]/g, '_');
  if (name === '' || name === '.' || name === '..') throw new TroupeError('TROUPE_INVALID_ARGUMENT', `'${options.name}' cannot name a database file`);
  let dir = options.dir;
  let ownDir: string | undefined;
  if (dir === undefined) dir = ownDir = await mkdtemp(join(tmpdir(), 'troupe-state-'));
  const store = await SqliteStore.create(join(dir, `${name}.sqlite`), ownDir);
  return new SqliteKeyedStateBackend(store, maxParallelism, { start: range.start, end: range.end }, cacheEntries, options.clock ?? systemClock);
}

interface Entry {
  readonly stateKey: StateKey;
  /** keyGroup - range.start */
  readonly index: number;
  /** The prefetch call that last touched it (invariant 4). */
  seq: number;
  loaded: boolean;
  /** State bits to write back. */
  dirty: number;
  /** State bits changed since the last capture. */
  changed: number;
}

interface Slot {
  readonly id: number;
  /** 1 << id; ids from 31 on share the top bit (then all of them count as touched). */
  readonly bit: number;
  readonly table: StateTable;
  /** The table's own dirty flags by key-group index (invariant 3). */
  readonly flags: Uint8Array;
}

interface LoadBatch {
  readonly entries: readonly Entry[];
  /** The now of the latest cleanupExpired call made while the load was queued. */
  cleanAt: number | undefined;
}

/** [key-group index, state key, state bit] */
type LateChanges = Array<[number, StateKey, number]>;

/** The map behind the poisoned cursor slot (invariant 2): every access throws. */
class NotResident extends Map<StateKey, unknown> {
  constructor(private readonly fail: () => never) {
    super();
  }
  override get(): unknown {
    return this.fail();
  }
  override set(): this {
    return this.fail();
  }
  override delete(): boolean {
    return this.fail();
  }
  override has(): boolean {
    return this.fail();
  }
}

export interface SqliteBackendStats {
  /** Keys in the cache. */
  readonly resident: number;
  /** Resident keys with changes not yet written back. */
  readonly dirty: number;
  /** Rows of queued writes not yet committed. */
  readonly pendingWriteRows: number;
  /** Evicted keys remembered as changed for the next incremental capture. */
  readonly evictedChanged: number;
}

export class SqliteKeyedStateBackend implements KeyedStateBackend {
  readonly kind = 'sqlite' as const;
  private currentKey: unknown = undefined;
  private readonly cursor: KeyCursor = { index: -1, keyGroup: -1, stateKey: '' };
  private readonly groupCount: number;
  private readonly slots: Slot[] = [];
  private readonly slotsByName = new Map<string, Slot>();
  private readonly handles = new StateHandleCache((info) => this.tableFor(info));
  private readonly poison: NotResident;
  /** Resident keys, least recently prefetched first. */
  private readonly resident = new Map<StateKey, Entry>();
  private current: Entry | undefined;
  private readonly dirtyEntries = new Set<Entry>();
  private readonly changedEntries = new Set<Entry>();
  private evictedChanged: Array<Map<StateKey, number> | undefined>;
  private evictedChangedCount = 0;
  private forceFull = false;
  /** False while the store has never held a row (invariant 2's exception). */
  private storeMayHaveRows = false;
  private seq = 0;
  /** Where the next stored-state TTL sweep starts (after this key blob and state id). */
  private sweepCursor: readonly [Buffer, number] = SWEEP_START;
  /** Loads queued or running. */
  private readonly loads = new Set<LoadBatch>();
  /** Store operations queued or running that may change state: TTL sweeps, loads that clean up. */
  private changeOpsQueued = 0;
  /** Per capture whose snapshot is not open yet: the changes sweeps make meanwhile (see capture()). */
  private readonly opening = new Set<LateChanges>();
  private disposed: Promise<void> | undefined;
  private readonly idsByMask = new Map<number, number[]>();

  constructor(
    private readonly store: SqliteStore,
    readonly maxParallelism: number,
    readonly range: KeyGroupRange,
    readonly cacheEntries: number,
    readonly clock: Clock,
  ) {
    this.groupCount = range.end - range.start + 1;
    this.evictedChanged = new Array<Map<StateKey, number> | undefined>(this.groupCount).fill(undefined);
    this.poison = new NotResident(() => {
      throw this.notResident();
    });
  }

  /** The database file. */
  get path(): string {
    return this.store.path;
  }

  // ---- current key ----

  setCurrentKey(key: unknown): void {
    const index = this.indexOf(key);
    const stateKey = stateKeyOf(key);
    if (this.current !== undefined) this.fold(this.current);
    this.currentKey = key;
    const cursor = this.cursor;
    cursor.keyGroup = this.range.start + index;
    cursor.stateKey = stateKey;
    let entry = this.resident.get(stateKey);
    if (entry === undefined && !this.storeMayHaveRows) entry = this.admit(stateKey, index, true);
    if (entry !== undefined && entry.loaded) {
      cursor.index = index;
      this.current = entry;
    } else {
      cursor.index = this.groupCount;
      this.current = undefined;
    }
  }

  getCurrentKey(): unknown {
    return this.currentKey;
  }

  private indexOf(key: unknown): number {
    if (this.disposed !== undefined || this.store.failure !== undefined) this.checkUsable();
    const group = keyGroupFor(key, this.maxParallelism);
    if (group < this.range.start || group > this.range.end) {
      throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', `key group ${group} is outside this subtask's range ${this.range.start}-${this.range.end}`);
    }
    return group - this.range.start;
  }

  private notResident(): TroupeError {
    let shown: string;
    try {
      shown = JSON.stringify(this.currentKey) ?? String(this.currentKey);
    } catch {
      shown = String(this.cursor.stateKey);
    }
    return new TroupeError('TROUPE_PROTOCOL_VIOLATION', `keyed state of key ${shown} was not prefetched (the sqlite backend needs prefetch(keys) before their records are processed)`);
  }

  private admit(stateKey: StateKey, index: number, loaded: boolean): Entry {
    const entry: Entry = { stateKey, index, seq: this.seq, loaded, dirty: 0, changed: 0 };
    this.resident.set(stateKey, entry);
    return entry;
  }

  /** Invariant 3: moves the state flags of the entry's key group into the entry. */
  private fold(entry: Entry): void {
    const index = entry.index;
    let bits = 0;
    for (const slot of this.slots) {
      if (slot.flags[index] !== 0) {
        slot.flags[index] = 0;
        bits |= slot.bit;
      }
    }
    if (bits !== 0) this.markChanged(entry, bits);
  }

  private markChanged(entry: Entry, bits: number): void {
    if (entry.dirty === 0) this.dirtyEntries.add(entry);
    entry.dirty |= bits;
    if (entry.changed === 0) this.changedEntries.add(entry);
    entry.changed |= bits;
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
    const slot = this.slotsByName.get(info.name);
    if (slot === undefined) return this.createSlot(info).table;
    checkCompatible(slot.table, info);
    return slot.table;
  }

  private createSlot(info: KeyedStateInfoLike): Slot {
    const id = this.slots.length;
    // one more slot than key groups: the poisoned one (invariant 2)
    const flags = new Uint8Array(this.groupCount + 1);
    const table = new StateTable(info.name, info.kind, info.ttl, { cursor: this.cursor, clock: this.clock, dirty: flags, shield: 0 }, this.groupCount + 1);
    table.groups[this.groupCount] = this.poison;
    const slot: Slot = { id, bit: id < 31 ? 1 << id : 1 << 31, table, flags };
    this.slots.push(slot);
    this.slotsByName.set(info.name, slot);
    this.idsByMask.clear();
    return slot;
  }

  /** The states registered or restored so far, in registration order (= state id order). */
  states(): KeyedStateInfoLike[] {
    return this.slots.map(({ table }) => ({ name: table.name, kind: table.kind, ttl: table.hasTtl }));
  }

  private idsOf(mask: number): number[] {
    let ids = this.idsByMask.get(mask);
    if (ids === undefined) {
      ids = this.slots.filter((s) => (mask & s.bit) !== 0).map((s) => s.id);
      this.idsByMask.set(mask, ids);
    }
    return ids;
  }

  // ---- prefetch, eviction, write-back ----

  prefetch(keys: Iterable<unknown>): Promise<void> | undefined {
    this.checkUsable();
    // every key is checked before anything changes
    const list = Array.isArray(keys) ? (keys as readonly unknown[]) : [...keys];
    const indexes = list.map((key) => this.indexOf(key));
    const seq = ++this.seq;
    let missing: Entry[] | undefined;
    let loading = false;
    for (let i = 0; i < list.length; i++) {
      const stateKey = stateKeyOf(list[i]);
      const entry = this.resident.get(stateKey);
      if (entry !== undefined) {
        if (entry.seq !== seq) {
          entry.seq = seq;
          this.resident.delete(stateKey);
          this.resident.set(stateKey, entry);
          // a load queued by an earlier prefetch: wait for it too
          if (!entry.loaded) loading = true;
        }
        continue;
      }
      const added = this.admit(stateKey, indexes[i]!, !this.storeMayHaveRows);
      if (!added.loaded) (missing ??= []).push(added);
    }
    // the load goes first: the records wait for it, not for the write-back of the evicted keys
    let loaded: Promise<void> | undefined;
    if (missing !== undefined) {
      const batch: LoadBatch = { entries: missing, cleanAt: undefined };
      this.loads.add(batch);
      loaded = this.store.enqueue(() => this.load(batch)).finally(() => {
        this.loads.delete(batch);
        if (batch.cleanAt !== undefined) this.changeOpsQueued--;
      });
    }
    if (this.resident.size > this.cacheEntries) {
      try {
        this.evict(seq);
      } catch (e) {
        loaded?.catch(() => undefined);
        throw e;
      }
    }
    if (loaded !== undefined) return loaded;
    // loads run in order: an empty operation completes after the pending ones
    if (loading) return this.store.enqueue(async () => undefined);
    if (this.store.pendingRows > this.cacheEntries) return this.store.idle().then(() => this.checkUsable());
    return undefined;
  }

  /**
   * Loads the rows of the batch's keys into the cache. A cleanupExpired call made while the load
   * was queued applies to what it loads (cleanAt): the cleaned rows are written back in the same
   * operation, before any record sees them, as if the call had found them resident.
   */
  private async load(batch: LoadBatch): Promise<void> {
    const { entries } = batch;
    const blobs = entries.map((e) => keyBlob(this.range.start + e.index, e.stateKey));
    const rows = await this.store.load(blobs);
    const byKey = new Map<StateKey, Entry>();
    for (const e of entries) if (this.resident.get(e.stateKey) === e) byKey.set(e.stateKey, e);
    const cleanAt = batch.cleanAt;
    const cleaned = emptyBatch();
    for (const row of rows) {
      const stateKey = stateKeyOfBlob(row.k);
      const entry = byKey.get(stateKey);
      const slot = this.slotOf(row.s);
      let stored = entry === undefined && cleanAt === undefined ? undefined : decodeValue(row.v);
      if (cleanAt !== undefined && slot.table.hasTtl && slot.table.ttl !== undefined) {
        const expiry = withoutExpired(slot.table.kind, stored, slot.table.ttl, cleanAt);
        if (expiry.removed > 0) {
          stored = expiry.kept;
          if (stored === undefined) cleaned.deletes.push([row.k, slot.id]);
          else cleaned.upserts.push([row.k, slot.id, encodeStored(slot.table.name, stored)]);
          this.changedInStore(keyGroupOfBlob(row.k) - this.range.start, stateKey, slot.bit);
        }
      }
      if (entry === undefined || stored === undefined) continue;
      let group = slot.table.groups[entry.index];
      if (group === undefined) group = slot.table.groups[entry.index] = new Map();
      group.set(stateKey, stored);
    }
    if (batchRows(cleaned) > 0) await this.store.writeNow(cleaned);
    for (const e of byKey.values()) e.loaded = true;
  }

  /** A store operation changed a row (TTL cleanup): the next capture and the captures still opening their snapshot see it. */
  private changedInStore(index: number, stateKey: StateKey, bit: number): void {
    const entry = this.resident.get(stateKey);
    if (entry !== undefined && entry.loaded) {
      if (entry.changed === 0) this.changedEntries.add(entry);
      entry.changed |= bit;
    } else {
      this.rememberChanged(index, stateKey, bit);
    }
    for (const late of this.opening) late.push([index, stateKey, bit]);
  }

  private slotOf(id: number): Slot {
    const slot = this.slots[id];
    if (slot === undefined) throw new TroupeError('TROUPE_INTERNAL_ERROR', `sqlite keyed state: a stored row names unknown state id ${id}`);
    return slot;
  }

  /** Invariant 4. */
  private evict(seq: number): void {
    if (this.current !== undefined) this.fold(this.current);
    let excess = this.resident.size - (this.cacheEntries - Math.floor(this.cacheEntries / 10));
    const victims: Entry[] = [];
    for (const entry of this.resident.values()) {
      if (excess <= 0 || entry.seq >= seq - 1) break;
      if (!entry.loaded || entry === this.current) continue;
      victims.push(entry);
      excess--;
    }
    this.writeBack(victims.filter((e) => e.dirty !== 0));
    for (const entry of victims) this.drop(entry);
  }

  /** Encodes the dirty states of the entries (all or nothing), queues the write and marks them clean. */
  private writeBack(entries: Iterable<Entry>, flushed?: FlushedValues): void {
    const batch = emptyBatch();
    const written: Entry[] = [];
    for (const entry of entries) {
      const blob = keyBlob(this.range.start + entry.index, entry.stateKey);
      let values: Map<number, Buffer | null> | undefined;
      if (flushed !== undefined) flushed.set(entry.stateKey, (values = new Map()));
      for (const id of this.idsOf(entry.dirty)) {
        const slot = this.slots[id]!;
        const stored = slot.table.groups[entry.index]?.get(entry.stateKey);
        if (stored === undefined) {
          batch.deletes.push([blob, id]);
          values?.set(id, null);
        } else {
          const bytes = encodeStored(slot.table.name, stored);
          batch.upserts.push([blob, id, bytes]);
          values?.set(id, bytes);
        }
      }
      written.push(entry);
    }
    for (const entry of written) {
      entry.dirty = 0;
      this.dirtyEntries.delete(entry);
    }
    this.queueWrite(batch);
  }

  private queueWrite(batch: WriteBatch): void {
    if (batchRows(batch) === 0) return;
    if (batch.upserts.length > 0) this.storeMayHaveRows = true;
    void this.store.write(batch);
  }

  /** Removes a clean entry from the cache. */
  private drop(entry: Entry): void {
    for (const slot of this.slots) slot.table.groups[entry.index]?.delete(entry.stateKey);
    this.resident.delete(entry.stateKey);
    entry.loaded = false;
    if (entry.changed !== 0) {
      this.rememberChanged(entry.index, entry.stateKey, entry.changed);
      this.changedEntries.delete(entry);
      entry.changed = 0;
    }
  }

  /** Empties the cache, writing back what is dirty first. */
  private evictAll(): void {
    if (this.current !== undefined) this.fold(this.current);
    this.writeBack(this.dirtyEntries);
    for (const entry of [...this.resident.values()]) this.drop(entry);
    for (const slot of this.slots) slot.table.groups.fill(undefined, 0, this.groupCount);
    this.current = undefined;
    if (this.cursor.index >= 0) this.cursor.index = this.groupCount;
  }

  private rememberChanged(index: number, stateKey: StateKey, bits: number): void {
    if (this.forceFull) return;
    let keys = this.evictedChanged[index];
    if (keys === undefined) keys = this.evictedChanged[index] = new Map();
    const before = keys.get(stateKey);
    if (before === undefined) this.evictedChangedCount++;
    keys.set(stateKey, (before ?? 0) | bits);
    // invariant 5: tracking every changed key of a huge state would be unbounded memory
    if (this.evictedChangedCount > 2 * this.cacheEntries) this.forgetChanges(true);
  }

  private forgetChanges(forceFull: boolean): void {
    this.forceFull = forceFull;
    this.evictedChanged = new Array<Map<StateKey, number> | undefined>(this.groupCount).fill(undefined);
    this.evictedChangedCount = 0;
    for (const entry of this.changedEntries) entry.changed = 0;
    this.changedEntries.clear();
  }

  // ---- capture and restore ----

  capture(full: boolean): KeyedStateCapture {
    this.checkUsable();
    if (this.current !== undefined) this.fold(this.current);
    const isFull = full || this.forceFull;
    const flushed: FlushedValues = new Map();
    this.writeBack(this.dirtyEntries, isFull ? undefined : flushed);
    const changed = new Array<Map<StateKey, number[]> | undefined>(this.groupCount).fill(undefined);
    // operations queued before the snapshot may still change state: their changes must reach this delta
    let needsStore = isFull || this.changeOpsQueued > 0;
    if (!isFull) {
      const masks = this.evictedChanged;
      for (const entry of this.changedEntries) {
        let keys = masks[entry.index];
        if (keys === undefined) keys = masks[entry.index] = new Map();
        keys.set(entry.stateKey, (keys.get(entry.stateKey) ?? 0) | entry.changed);
      }
      masks.forEach((keys, index) => {
        if (keys === undefined) return;
        const ids = new Map<StateKey, number[]>();
        for (const [stateKey, mask] of keys) {
          const stateIds = this.idsOf(mask);
          ids.set(stateKey, stateIds);
          if (!needsStore) {
            const values = flushed.get(stateKey);
            needsStore = values === undefined || stateIds.some((id) => !values.has(id));
          }
        }
        changed[index] = ids;
      });
    }
    this.forgetChanges(false);
    const late: LateChanges = [];
    let snapshot: Promise<StoreSnapshot> | undefined;
    if (needsStore) {
      this.opening.add(late);
      snapshot = this.store.enqueue(async () => {
        this.opening.delete(late);
        return this.store.openSnapshot();
      }, false);
    }
    const states = this.states();
    return new SqliteCapture({ full: isFull, maxParallelism: this.maxParallelism, range: this.range, states, changed, flushed, late, idsOf: (mask) => this.idsOf(mask), snapshot });
  }

  async restore(changes: KeyedStateChanges): Promise<void> {
    this.checkUsable();
    const infos = this.checkChanges(changes);
    // ids of states the changes bring are assigned only once the batch is built (atomic restore)
    const added = [...infos.values()].filter((info) => !this.slotsByName.has(info.name));
    const idOf = (name: string): number => this.slotsByName.get(name)?.id ?? this.slots.length + added.findIndex((i) => i.name === name);
    const { start, end } = this.range;
    const batch = emptyBatch();
    const touched: Array<[number, StateKey, number]> = [];
    const covered = intersect(changes.range, this.range);
    if (changes.full && covered !== null) batch.deleteRanges.push([groupBound(covered.start), groupBound(covered.end + 1)]);
    for (const group of changes.keyGroups) {
      const keyGroup = group.keyGroup;
      if (keyGroup < start || keyGroup > end) continue;
      for (const state of group.states) {
        const id = idOf(state.name);
        for (const stateKey of state.deletes) {
          batch.deletes.push([keyBlob(keyGroup, stateKey), id]);
          touched.push([keyGroup - start, stateKey, id]);
        }
        for (const [stateKey, stored] of state.upserts) {
          batch.upserts.push([keyBlob(keyGroup, stateKey), id, encodeStored(state.name, stored)]);
          touched.push([keyGroup - start, stateKey, id]);
        }
      }
    }
    for (const info of added) this.createSlot(info);
    // the store becomes the only copy: nothing stale stays resident (pending loads are dropped too)
    this.evictAll();
    if (changes.full) this.forgetChanges(true);
    else for (const [index, stateKey, id] of touched) this.rememberChanged(index, stateKey, this.slots[id]!.bit);
    if (batch.upserts.length > 0) this.storeMayHaveRows = true;
    await this.store.enqueue(() => this.store.writeNow(batch));
  }

  /** Checks a restore input completely (state/snapshot/keyed-changes.ts) before anything changes; returns its states by name. */
  private checkChanges(changes: KeyedStateChanges): Map<string, KeyedStateInfoLike> {
    const checked = checkKeyedChanges(changes, this.maxParallelism);
    const infos = new Map<string, KeyedStateInfoLike>();
    for (const info of checked.states) {
      const slot = this.slotsByName.get(info.name);
      if (slot !== undefined) checkCompatible(slot.table, info);
      infos.set(info.name, info);
    }
    return infos;
  }

  // ---- TTL ----

  hasTtlState(): boolean {
    return this.slots.some((s) => s.table.hasTtl);
  }

  cleanupExpired(now: number = this.clock.now()): number {
    this.checkUsable();
    if (this.current !== undefined) this.fold(this.current);
    let removed = 0;
    for (const slot of this.slots) {
      const { table } = slot;
      const ttl = table.ttl;
      if (!table.hasTtl || ttl === undefined) continue;
      for (let index = 0; index < this.groupCount; index++) {
        const group = table.groups[index];
        if (group === undefined) continue;
        for (const [stateKey, stored] of group) {
          const expiry = withoutExpired(table.kind, stored, ttl, now);
          if (expiry.removed === 0) continue;
          removed += expiry.removed;
          if (expiry.kept === undefined) group.delete(stateKey);
          else group.set(stateKey, expiry.kept);
          this.markChanged(this.resident.get(stateKey)!, slot.bit);
        }
      }
    }
    if (this.storeMayHaveRows && this.slots.some((s) => s.table.hasTtl && s.table.ttl !== undefined)) {
      for (const batch of this.loads) {
        if (batch.cleanAt === undefined) this.changeOpsQueued++;
        batch.cleanAt = now;
      }
      this.sweepStored(now);
    }
    return removed;
  }

  /**
   * Queues the removal of expired values from the next SWEEP_ROWS stored rows (a cursor goes round
   * the table, Flink's incremental cleanup). Queued now, it takes effect at this point of the
   * store order: later loads and captures see it, and the changes it makes count for the first
   * capture whose snapshot sees them (see capture()).
   */
  private sweepStored(now: number): void {
    this.changeOpsQueued++;
    const sweep = async (): Promise<void> => {
      const rows = await this.store.scanAfter(this.sweepCursor[0], this.sweepCursor[1], SWEEP_ROWS);
      const last = rows.at(-1);
      this.sweepCursor = rows.length < SWEEP_ROWS || last === undefined ? SWEEP_START : [last.k, last.s];
      const batch = emptyBatch();
      for (const row of rows) {
        const slot = this.slots[row.s];
        const ttl = slot?.table.ttl;
        if (slot === undefined || !slot.table.hasTtl || ttl === undefined) continue;
        const stateKey = stateKeyOfBlob(row.k);
        // a loaded key was cleaned in the cache, by cleanupExpired or by its load; its row may be stale
        if (this.resident.get(stateKey)?.loaded === true) continue;
        const expiry = withoutExpired(slot.table.kind, decodeValue(row.v), ttl, now);
        if (expiry.removed === 0) continue;
        if (expiry.kept === undefined) batch.deletes.push([row.k, slot.id]);
        else batch.upserts.push([row.k, slot.id, encodeStored(slot.table.name, expiry.kept)]);
        this.changedInStore(keyGroupOfBlob(row.k) - this.range.start, stateKey, slot.bit);
      }
      if (batchRows(batch) > 0) await this.store.writeNow(batch);
    };
    this.store
      .enqueue(sweep)
      .catch(() => undefined)
      .finally(() => this.changeOpsQueued--);
  }

  // ---- lifecycle ----

  /** Counts for metrics and tests. */
  stats(): SqliteBackendStats {
    return { resident: this.resident.size, dirty: this.dirtyEntries.size, pendingWriteRows: this.store.pendingRows, evictedChanged: this.evictedChangedCount };
  }

  /** Resolves when no store operation is queued (write-backs, loads, sweeps); rejects when the store failed. */
  async settled(): Promise<void> {
    while (this.store.busy) await this.store.idle();
    if (this.store.failure !== undefined) throw this.store.failure;
  }

  /** Discards the state (the checkpoint is the durable copy), closes the database and deletes its files. Idempotent. */
  dispose(): Promise<void> {
    if (this.disposed === undefined) {
      this.resident.clear();
      this.dirtyEntries.clear();
      this.changedEntries.clear();
      for (const slot of this.slots) slot.table.groups.fill(undefined, 0, this.groupCount);
      this.current = undefined;
      if (this.cursor.index >= 0) this.cursor.index = this.groupCount;
      this.disposed = this.store.destroy();
    }
    return this.disposed;
  }

  private checkUsable(): void {
    if (this.disposed !== undefined) throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', `the keyed state backend ${this.store.path} was disposed`);
    if (this.store.failure !== undefined) throw this.store.failure;
  }
}

function encodeStored(name: string, stored: unknown): Buffer {
  try {
    return encodeValue(stored);
  } catch (e) {
    if (e instanceof TroupeError) throw new TroupeError(e.code, `keyed state '${name}' cannot be stored: ${e.message}`, { ...(e.details !== undefined ? { details: e.details } : {}) });
    throw e;
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
