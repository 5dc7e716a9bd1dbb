/**
 * The asynchronous half of a sqlite backend capture: builds the KeyedStateChanges from what the
 * synchronous half fixed (see "Captures" in sqlite-keyed-state-backend.ts).
 *
 * Invariants:
 *  1. Every value comes from a frozen source: the encoded rows of the capture's own flush (copied
 *     into the write batch at capture time) or the store snapshot opened right after that flush.
 *     Values are decoded from bytes, so they share nothing with the live state (contract 4).
 *  2. A delta lists, for each changed (state, key), an upsert when the frozen source holds a value
 *     and a delete when it does not.
 *  3. The snapshot's read transaction ends when materialize() settles, or at release() when no
 *     materialize() runs; a materialize() still reading when release() comes rejects.
 */
import { decodeValue } from '../../actors/network/record-codec.js';
import { TroupeError } from '../../core/errors.js';
import { KEYED_CHANGES_FORMAT, type KeyedStateCapture, type KeyedStateChanges, type KeyedStateInfoLike, type KeyGroupChanges } from '../backend.js';
import type { KeyGroupRange, StateKey } from '../key-groups.js';
import { groupBound, keyBlob, keyGroupOfBlob, stateKeyOfBlob } from './key-blob.js';
import type { StoredRow, StoreSnapshot } from './sqlite-store.js';

/** Key groups read per scan of a full capture. */
const SCAN_GROUPS = 32;

/** Encoded values of the capture's flush: state key → state id → value bytes (null: removed). */
export type FlushedValues = Map<StateKey, Map<number, Buffer | null>>;

export interface CaptureParts {
  readonly full: boolean;
  readonly maxParallelism: number;
  readonly range: KeyGroupRange;
  readonly states: readonly KeyedStateInfoLike[];
  /** Delta only: per key group index (keyGroup - range.start), the changed state keys and the state ids changed. */
  readonly changed: Array<Map<StateKey, readonly number[]> | undefined>;
  readonly flushed: FlushedValues;
  /** Delta only: changes made by store operations queued before the snapshot, filled until it opens: [key-group index, state key, state bit]. */
  readonly late: ReadonlyArray<readonly [number, StateKey, number]>;
  readonly idsOf: (mask: number) => readonly number[];
  /** Opened after the flush and before any later write; undefined when the flush holds every value needed. */
  readonly snapshot: Promise<StoreSnapshot> | undefined;
}

interface Pending {
  readonly keyGroup: number;
  readonly stateKey: StateKey;
  readonly id: number;
}

export class SqliteCapture implements KeyedStateCapture {
  readonly full: boolean;
  readonly backend = 'sqlite' as const;
  private result: Promise<KeyedStateChanges> | undefined;
  private released = false;

  constructor(private readonly parts: CaptureParts) {
    this.full = parts.full;
    // a snapshot that fails to open rejects materialize(); nobody may be listening yet
    parts.snapshot?.catch(() => undefined);
  }

  materialize(): Promise<KeyedStateChanges> {
    if (this.released) return Promise.reject(new TroupeError('TROUPE_PROTOCOL_VIOLATION', 'materialize() of a released keyed state capture'));
    return (this.result ??= this.build());
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    // a materialize in progress stops at its next read and ends the snapshot itself
    if (this.result === undefined) {
      this.parts.snapshot?.then(
        (s) => s.end(),
        () => undefined,
      );
    }
  }

  /** After each read: a capture released meanwhile must not answer (its snapshot may be gone). */
  private live(): void {
    if (this.released) throw new TroupeError('TROUPE_PROTOCOL_VIOLATION', 'the keyed state capture was released while it materialized');
  }

  private async build(): Promise<KeyedStateChanges> {
    const { parts } = this;
    const snapshot = parts.snapshot === undefined ? undefined : await parts.snapshot;
    try {
      const keyGroups = parts.full ? await this.fullImage(snapshot!) : await this.delta(snapshot);
      return { format: KEYED_CHANGES_FORMAT, maxParallelism: parts.maxParallelism, range: parts.range, full: parts.full, states: parts.states, keyGroups };
    } finally {
      snapshot?.end();
    }
  }

  private async fullImage(snapshot: StoreSnapshot): Promise<KeyGroupChanges[]> {
    const { range } = this.parts;
    const out: KeyGroupChanges[] = [];
    for (let from = range.start; from <= range.end; from += SCAN_GROUPS) {
      const to = Math.min(range.end + 1, from + SCAN_GROUPS);
      const rows = await snapshot.scan(groupBound(from), groupBound(to));
      this.live();
      // rows come ordered by key blob, so by key group
      let start = 0;
      while (start < rows.length) {
        const keyGroup = keyGroupOfBlob(rows[start]!.k);
        let end = start;
        while (end < rows.length && keyGroupOfBlob(rows[end]!.k) === keyGroup) end++;
        out.push(this.groupOf(keyGroup, rows, start, end));
        start = end;
      }
    }
    return out;
  }

  private groupOf(keyGroup: number, rows: readonly StoredRow[], start: number, end: number): KeyGroupChanges {
    const byState = new Map<number, Array<readonly [StateKey, unknown]>>();
    for (let i = start; i < end; i++) {
      const row = rows[i]!;
      let upserts = byState.get(row.s);
      if (upserts === undefined) byState.set(row.s, (upserts = []));
      upserts.push([stateKeyOfBlob(row.k), decodeValue(row.v)]);
    }
    const states = [...byState.keys()].sort((a, b) => a - b).map((id) => ({ name: this.nameOf(id), upserts: byState.get(id)!, deletes: [] }));
    return { keyGroup, states };
  }

  private async delta(snapshot: StoreSnapshot | undefined): Promise<KeyGroupChanges[]> {
    const { range, changed, flushed, late, idsOf } = this.parts;
    for (const [index, stateKey, bit] of late) {
      let keys = changed[index];
      if (keys === undefined) keys = changed[index] = new Map();
      const ids = keys.get(stateKey) ?? [];
      keys.set(stateKey, [...new Set([...ids, ...idsOf(bit)])]);
    }
    // per key group: state id → upserts / deletes
    const groups = new Map<number, Map<number, { upserts: Array<readonly [StateKey, unknown]>; deletes: StateKey[] }>>();
    const put = (keyGroup: number, id: number, stateKey: StateKey, bytes: Buffer | null | undefined): void => {
      let group = groups.get(keyGroup);
      if (group === undefined) groups.set(keyGroup, (group = new Map()));
      let state = group.get(id);
      if (state === undefined) group.set(id, (state = { upserts: [], deletes: [] }));
      if (bytes === null || bytes === undefined) state.deletes.push(stateKey);
      else state.upserts.push([stateKey, decodeValue(bytes)]);
    };
    const pending: Pending[] = [];
    changed.forEach((keys, index) => {
      if (keys === undefined) return;
      const keyGroup = range.start + index;
      for (const [stateKey, ids] of keys) {
        const values = flushed.get(stateKey);
        for (const id of ids) {
          if (values?.has(id) === true) put(keyGroup, id, stateKey, values.get(id));
          else pending.push({ keyGroup, stateKey, id });
        }
      }
    });
    if (pending.length > 0) {
      if (snapshot === undefined) throw new TroupeError('TROUPE_INTERNAL_ERROR', 'sqlite keyed state capture: changed keys outside the flush but no snapshot');
      const blobs = new Map<StateKey, Buffer>();
      for (const p of pending) if (!blobs.has(p.stateKey)) blobs.set(p.stateKey, keyBlob(p.keyGroup, p.stateKey));
      const rows = await snapshot.load([...blobs.values()]);
      this.live();
      const stored = new Map<StateKey, Map<number, Buffer>>();
      for (const row of rows) {
        const stateKey = stateKeyOfBlob(row.k);
        let values = stored.get(stateKey);
        if (values === undefined) stored.set(stateKey, (values = new Map()));
        values.set(row.s, row.v);
      }
      for (const p of pending) put(p.keyGroup, p.id, p.stateKey, stored.get(p.stateKey)?.get(p.id));
    }
    return [...groups.keys()]
      .sort((a, b) => a - b)
      .map((keyGroup) => {
        const states = groups.get(keyGroup)!;
        return {
          keyGroup,
          states: [...states.keys()].sort((a, b) => a - b).map((id) => ({ name: this.nameOf(id), ...states.get(id)! })),
        };
      });
  }

  private nameOf(id: number): string {
    const info = this.parts.states[id];
    if (info === undefined) throw new TroupeError('TROUPE_INTERNAL_ERROR', `sqlite keyed state: a stored row names unknown state id ${id}`);
    return info.name;
  }
}
