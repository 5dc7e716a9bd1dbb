/**
 * One keyed state's storage on the heap: a Map from state key to stored value per key group, and
 * the TTL bookkeeping every state kind shares.
 *
 * Invariants:
 *  1. groups[g - range.start] holds exactly the keys of key group g that have state; an empty list
 *     or map is never stored (the key is removed), so "has an entry" means "has state".
 *  2. Every change to a key group's content, including a TTL timestamp refresh and a lazy cleanup,
 *     marks the key group dirty.
 *  3. Stored values are replaced, never modified in place, except list arrays and map Maps, which
 *     belong to the table alone (snapshots and restores copy them); while a capture is pending,
 *     those too are copied before a change (invariant 5), and a TTL cleanup builds a new one.
 *  4. While change tracking is on (from the backend's first capture), changed[g - range.start]
 *     holds every state key of key group g whose entry was set or removed since the last capture,
 *     TTL cleanups included. Reads never count as changes.
 *  5. While a capture is pending (scope.shield > 0), get() never hands out an object the capture
 *     may share: the first read of such an entry since the capture stores a deep copy and returns
 *     that, so user code that modifies a value in place (an accumulator) cannot reach into the
 *     capture. Entries set since the capture are the user's own objects and are not copied.
 *  6. Copy on write per key group: while frozen[i] > 0, pending full captures hold groups[i]'s Map
 *     itself; it is never changed again: the first change copies it (thaw) and the copy is live.
 */
import { decodeValue, encodeValue } from '../../actors/network/record-codec.js';
import type { Clock } from '../../core/clock.js';
import { TroupeError } from '../../core/errors.js';
import type { StateKey } from '../key-groups.js';
import type { StateKind } from '../state-descriptor.js';
import { isExpired, type ResolvedTtl, type TtlValue } from '../ttl.js';

/** Where the backend is: the current key, set per record. */
export interface KeyCursor {
  /** keyGroup - range.start; -1 until the first key is set. */
  index: number;
  keyGroup: number;
  stateKey: StateKey;
}

export interface TableScope {
  readonly cursor: KeyCursor;
  readonly clock: Clock;
  /** 1 at index g - range.start when key group g changed since the last mark. */
  readonly dirty: Uint8Array;
  /** Captures not yet released (invariant 5); the table sets it to 0 when absent. */
  shield?: number;
}

/** Per key-group index, the state keys of that group (undefined: none). */
export type KeySets = Array<Set<StateKey> | undefined>;

export class StateTable {
  readonly groups: Array<Map<StateKey, unknown> | undefined>;
  readonly cursor: KeyCursor;
  readonly dirty: Uint8Array;
  /** The TTL of the latest registered descriptor; the stored form depends only on whether there is one. */
  ttl: ResolvedTtl | undefined;
  /** Keys set or removed since the last capture (invariant 4); null until change tracking starts. */
  changed: KeySets | null = null;
  /** Keys deep-copied since the last capture (invariant 5); null while no capture is pending. */
  unshared: KeySets | null = null;
  /** Per key-group index, how many pending captures hold the group's Map (invariant 6). */
  readonly frozen: Uint16Array;

  constructor(
    readonly name: string,
    readonly kind: StateKind,
    /** Stored values are TtlValue-wrapped (elements for lists, entries for maps). */
    readonly hasTtl: boolean,
    readonly scope: TableScope,
    groupCount: number,
  ) {
    this.groups = new Array<Map<StateKey, unknown> | undefined>(groupCount).fill(undefined);
    this.frozen = new Uint16Array(groupCount);
    this.cursor = scope.cursor;
    this.dirty = scope.dirty;
    scope.shield ??= 0;
  }

  /** The stored value of the current key, undefined when it has none. */
  get(): unknown {
    const cursor = this.cursor;
    const group = this.groups[cursor.index];
    if (group !== undefined) {
      const stored = group.get(cursor.stateKey);
      return this.scope.shield !== 0 && typeof stored === 'object' && stored !== null ? this.unshare(stored) : stored;
    }
    if (cursor.index < 0) throw noCurrentKey(this.name);
    return undefined;
  }

  set(stored: unknown): void {
    const { cursor } = this;
    if (cursor.index < 0) throw noCurrentKey(this.name);
    let group = this.groups[cursor.index];
    if (group === undefined) group = this.groups[cursor.index] = new Map();
    else if (this.frozen[cursor.index] !== 0) group = this.thaw(cursor.index);
    group.set(cursor.stateKey, stored);
    this.dirty[cursor.index] = 1;
    if (this.changed !== null) this.touch(cursor.index, cursor.stateKey);
  }

  remove(): void {
    const { cursor } = this;
    if (cursor.index < 0) throw noCurrentKey(this.name);
    let group = this.groups[cursor.index];
    if (group === undefined) return;
    if (this.frozen[cursor.index] !== 0) {
      if (!group.has(cursor.stateKey)) return;
      group = this.thaw(cursor.index);
    }
    if (!group.delete(cursor.stateKey)) return;
    this.dirty[cursor.index] = 1;
    if (this.changed !== null) this.touch(cursor.index, cursor.stateKey);
  }

  /** Invariant 6: replaces the frozen Map of key-group index `index` by a live copy and returns it. */
  thaw(index: number): Map<StateKey, unknown> {
    const copy = new Map(this.groups[index]);
    this.groups[index] = copy;
    this.frozen[index] = 0;
    return copy;
  }

  /** Records a change of `stateKey` in key-group index `index` (invariant 4); tracking must be on. */
  touch(index: number, stateKey: StateKey): void {
    const changed = this.changed!;
    let keys = changed[index];
    if (keys === undefined) keys = changed[index] = new Set();
    keys.add(stateKey);
  }

  /** Invariant 5: the current key's stored object, deep-copied first if a pending capture may share it. */
  unshare(stored: object): unknown {
    const { index, stateKey } = this.cursor;
    if (this.changed?.[index]?.has(stateKey) === true) return stored;
    const unshared = (this.unshared ??= []);
    let keys = unshared[index];
    if (keys === undefined) keys = unshared[index] = new Set();
    else if (keys.has(stateKey)) return stored;
    const copy = decodeValue(encodeValue(stored));
    (this.frozen[index] !== 0 ? this.thaw(index) : this.groups[index]!).set(stateKey, copy);
    keys.add(stateKey);
    return copy;
  }

  now(): number {
    return this.scope.clock.now();
  }

  /** For value, reducing and aggregating state: the visible value under TTL rules (invariant 2 of state/ttl.ts). */
  readSingle(): unknown {
    const stored = this.get();
    const ttl = this.ttl;
    if (stored === undefined || ttl === undefined) return stored;
    const tv = stored as TtlValue<unknown>;
    const now = this.now();
    if (isExpired(tv, ttl, now)) {
      this.remove();
      return ttl.returnExpired ? tv.value : undefined;
    }
    if (ttl.updateOnRead) this.set({ value: tv.value, timestamp: now });
    return tv.value;
  }

  /** The value a write builds on: an expired one is dropped whatever the visibility (Flink's TTL reduce/aggregate). */
  readForWrite(): unknown {
    const stored = this.get();
    const ttl = this.ttl;
    if (stored === undefined || ttl === undefined) return stored;
    const tv = stored as TtlValue<unknown>;
    return isExpired(tv, ttl, this.now()) ? undefined : tv.value;
  }

  writeSingle(value: unknown): void {
    if (value === undefined) this.remove();
    else this.set(this.hasTtl ? { value, timestamp: this.now() } : value);
  }

  wrap(value: unknown, now: number): unknown {
    return this.hasTtl ? { value, timestamp: now } : value;
  }

  /**
   * Removes every expired value, list element and map entry in all key groups; returns how many
   * were removed. No-op for a state without TTL.
   */
  cleanupExpired(now: number): number {
    const ttl = this.ttl;
    // a restored TTL state that no handle has registered yet has no known TTL: it keeps its values
    if (!this.hasTtl || ttl === undefined) return 0;
    let removed = 0;
    const expired = (tv: unknown): boolean => isExpired(tv as TtlValue<unknown>, ttl, now);
    for (let index = 0; index < this.groups.length; index++) {
      const group = this.groups[index];
      if (group === undefined) continue;
      // a frozen group is read as it is and changed in a copy (invariant 6); containers are replaced (invariant 3)
      let live = group;
      const writable = (): Map<StateKey, unknown> => (live === group && this.frozen[index] !== 0 ? (live = this.thaw(index)) : live);
      const before = removed;
      for (const [key, stored] of group) {
        let gone = 0;
        if (this.kind === 'list') {
          const list = stored as unknown[];
          const kept = list.filter((e) => !expired(e));
          gone = list.length - kept.length;
          if (kept.length === 0) writable().delete(key);
          else if (gone > 0) writable().set(key, kept);
        } else if (this.kind === 'map') {
          const map = stored as Map<StateKey, unknown>;
          for (const e of map.values()) if (expired(e)) gone++;
          if (gone === map.size) writable().delete(key);
          else if (gone > 0) writable().set(key, new Map([...map].filter(([, e]) => !expired(e))));
        } else if (expired(stored)) {
          gone = 1;
          writable().delete(key);
        }
        if (gone > 0) {
          removed += gone;
          if (this.changed !== null) this.touch(index, key);
        }
      }
      if (removed !== before) this.dirty[index] = 1;
    }
    return removed;
  }
}

export function noCurrentKey(name: string): TroupeError {
  return new TroupeError('TROUPE_INVALID_ARGUMENT', `keyed state '${name}' was used with no current key (use keyed state only while processing a record)`);
}

/** Copies what the table owns (list arrays, map Maps) so a snapshot or restore shares no container. */
export function copyStored(kind: StateKind, stored: unknown): unknown {
  if (kind === 'list') return (stored as unknown[]).slice();
  if (kind === 'map') return new Map(stored as Map<StateKey, unknown>);
  return stored;
}
