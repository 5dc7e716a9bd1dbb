/**
 * Checks of the keyed exchange format (KeyedStateChanges, state/backend.ts), shared by every
 * backend's restore and by the snapshot reader, so that what one side refuses the other refuses
 * too. Pure: no I/O.
 *
 * A well-formed changes object:
 *  1. has the format KEYED_CHANGES_FORMAT, the backend's max parallelism, and a range inside it;
 *  2. declares each state once, with a known kind, and every state its key groups use;
 *  3. lists key groups strictly ascending, inside its range; a full image has no deletes;
 *  4. holds state keys (string, number, boolean) and stored values of the declared form
 *     (contract 4): lists non-empty arrays, maps non-empty Maps, TTL values { value, timestamp }.
 */
import { TroupeError } from '../../core/errors.js';
import { KEYED_CHANGES_FORMAT, type KeyedStateChanges, type KeyedStateInfoLike } from '../backend.js';
import type { KeyGroupRange } from '../key-groups.js';
import type { StateKind } from '../state-descriptor.js';

const KINDS: readonly StateKind[] = ['value', 'list', 'map', 'reducing', 'aggregating'];

function invalid(message: string): TroupeError {
  return new TroupeError('TROUPE_INVALID_ARGUMENT', `keyed state changes: ${message}`);
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null;

export function isKeyGroupRange(r: unknown, maxParallelism: number): r is KeyGroupRange {
  return isRecord(r) && Number.isInteger(r.start) && Number.isInteger(r.end) && (r.start as number) >= 0 && (r.end as number) >= (r.start as number) && (r.end as number) < maxParallelism;
}

/** The intersection of two ranges, null when they do not overlap. */
export function intersect(a: KeyGroupRange, b: KeyGroupRange): KeyGroupRange | null {
  const start = Math.max(a.start, b.start);
  const end = Math.min(a.end, b.end);
  return start <= end ? { start, end } : null;
}

function isStateKey(k: unknown): boolean {
  return typeof k === 'string' || typeof k === 'boolean' || (typeof k === 'number' && !Number.isNaN(k));
}

function isTtlValue(x: unknown): boolean {
  return isRecord(x) && 'value' in x && typeof x.timestamp === 'number' && Number.isFinite(x.timestamp);
}

/** Null when `stored` is a stored value of this state (invariant 4), else what is wrong. */
export function storedProblem(info: KeyedStateInfoLike, stored: unknown): string | null {
  switch (info.kind) {
    case 'list':
      if (!Array.isArray(stored) || stored.length === 0) return 'a list is stored as a non-empty array';
      if (info.ttl && !stored.every(isTtlValue)) return 'list elements with TTL are { value, timestamp }';
      return null;
    case 'map':
      if (!(stored instanceof Map) || stored.size === 0) return 'a map is stored as a non-empty Map';
      for (const [k, v] of stored as Map<unknown, unknown>) {
        if (!isStateKey(k)) return 'map keys are state keys';
        if (info.ttl && !isTtlValue(v)) return 'map values with TTL are { value, timestamp }';
      }
      return null;
    default:
      if (stored === undefined) return 'undefined is not a stored value';
      if (info.ttl && !isTtlValue(stored)) return 'a value with TTL is { value, timestamp }';
      return null;
  }
}

/**
 * The changes, checked against invariants 1-4 for a backend of `maxParallelism`; throws
 * TROUPE_INVALID_ARGUMENT naming the first problem. Linear in the entries; copies nothing.
 */
export function checkKeyedChanges(changes: unknown, maxParallelism: number): KeyedStateChanges {
  if (!isRecord(changes) || changes.format !== KEYED_CHANGES_FORMAT) {
    throw invalid(`not keyed state changes (format ${String(isRecord(changes) ? changes.format : changes)}, expected ${KEYED_CHANGES_FORMAT})`);
  }
  if (changes.maxParallelism !== maxParallelism) {
    throw invalid(`max parallelism ${String(changes.maxParallelism)}, the backend has ${maxParallelism}: key groups cannot be mapped`);
  }
  const { range } = changes;
  if (!isKeyGroupRange(range, maxParallelism)) throw invalid(`bad key-group range ${JSON.stringify(range)}`);
  if (typeof changes.full !== 'boolean') throw invalid('full must be a boolean');
  if (!Array.isArray(changes.states)) throw invalid('states must be an array');
  const infos = new Map<string, KeyedStateInfoLike>();
  for (const info of changes.states as unknown[]) {
    if (!isRecord(info) || typeof info.name !== 'string' || !KINDS.includes(info.kind as StateKind) || typeof info.ttl !== 'boolean') {
      throw invalid(`bad state declaration ${JSON.stringify(info)}`);
    }
    if (infos.has(info.name)) throw invalid(`state '${info.name}' is declared twice`);
    infos.set(info.name, info as unknown as KeyedStateInfoLike);
  }
  if (!Array.isArray(changes.keyGroups)) throw invalid('keyGroups must be an array');
  let last = -1;
  for (const g of changes.keyGroups as unknown[]) {
    if (!isRecord(g) || !Number.isInteger(g.keyGroup) || !Array.isArray(g.states)) throw invalid('bad key-group entry');
    const keyGroup = g.keyGroup as number;
    if (keyGroup < range.start || keyGroup > range.end) throw invalid(`key group ${keyGroup} is outside the range ${range.start}-${range.end}`);
    if (keyGroup <= last) throw invalid(`key groups are not strictly ascending (${keyGroup} after ${last})`);
    last = keyGroup;
    for (const s of g.states as unknown[]) {
      if (!isRecord(s) || typeof s.name !== 'string' || !Array.isArray(s.upserts) || !Array.isArray(s.deletes)) throw invalid(`bad state entry in key group ${keyGroup}`);
      const info = infos.get(s.name);
      if (info === undefined) throw invalid(`key group ${keyGroup} holds state '${s.name}', which is not declared`);
      if (changes.full && s.deletes.length > 0) throw invalid(`a full image has no deletes (state '${s.name}', key group ${keyGroup})`);
      for (const u of s.upserts as unknown[]) {
        if (!Array.isArray(u) || u.length !== 2 || !isStateKey(u[0])) throw invalid(`bad upsert in state '${s.name}', key group ${keyGroup}`);
        const problem = storedProblem(info, u[1]);
        if (problem !== null) throw invalid(`state '${s.name}' (${info.kind}${info.ttl ? ', TTL' : ''}), key ${JSON.stringify(u[0])}: ${problem}`);
      }
      for (const k of s.deletes as unknown[]) if (!isStateKey(k)) throw invalid(`bad delete in state '${s.name}', key group ${keyGroup}`);
    }
  }
  return changes as unknown as KeyedStateChanges;
}
