/**
 * State time-to-live (Flink's StateTtlConfig). Pure: time is passed in.
 *
 * Invariants:
 *  1. A stored value of a TTL state carries the time of its last write (and of its last read under
 *     'on-read-and-write'); it is expired when lastAccess + ttlMs <= now.
 *  2. An access that finds an expired value removes it (lazy cleanup). 'never-return-expired' never
 *     shows it; 'return-expired-if-not-cleaned-up' shows it to that one read, as Flink does.
 *  3. Lists and maps expire per element / per entry.
 */
import { TroupeError } from '../core/errors.js';

export interface StateTtlConfig {
  readonly ttlMs: number;
  /** When the last-access time is refreshed. Default 'on-create-and-write' (Flink's default). */
  readonly updateType?: 'on-create-and-write' | 'on-read-and-write';
  /** Whether an expired value that is still stored may be returned once. Default 'never-return-expired'. */
  readonly visibility?: 'never-return-expired' | 'return-expired-if-not-cleaned-up';
}

/** Options every state descriptor factory accepts. */
export interface StateDescriptorOptions {
  readonly ttl?: StateTtlConfig;
}

/** The stored form of a value under TTL (Flink's TtlValue). */
export interface TtlValue<V> {
  readonly value: V;
  /** Epoch ms of the last access that refreshes the TTL. */
  readonly timestamp: number;
}

export interface ResolvedTtl {
  readonly ttlMs: number;
  readonly updateOnRead: boolean;
  readonly returnExpired: boolean;
}

const UPDATE_TYPES: ReadonlySet<unknown> = new Set(['on-create-and-write', 'on-read-and-write']);
const VISIBILITIES: ReadonlySet<unknown> = new Set(['never-return-expired', 'return-expired-if-not-cleaned-up']);

export function resolveTtl(ttl: StateTtlConfig | undefined, stateName: string): ResolvedTtl | undefined {
  if (ttl === undefined) return undefined;
  const where = `TTL of state '${stateName}'`;
  if (ttl === null || typeof ttl !== 'object') throw new TroupeError('TROUPE_INVALID_ARGUMENT', `${where} must be an object { ttlMs, updateType?, visibility? }`);
  if (typeof ttl.ttlMs !== 'number' || !Number.isFinite(ttl.ttlMs) || ttl.ttlMs <= 0) {
    throw new TroupeError('TROUPE_INVALID_ARGUMENT', `${where}: ttlMs must be a positive finite number, got ${String(ttl.ttlMs)}`);
  }
  if (ttl.updateType !== undefined && !UPDATE_TYPES.has(ttl.updateType)) {
    throw new TroupeError('TROUPE_INVALID_ARGUMENT', `${where}: updateType must be 'on-create-and-write' or 'on-read-and-write', got ${String(ttl.updateType)}`);
  }
  if (ttl.visibility !== undefined && !VISIBILITIES.has(ttl.visibility)) {
    throw new TroupeError('TROUPE_INVALID_ARGUMENT', `${where}: visibility must be 'never-return-expired' or 'return-expired-if-not-cleaned-up', got ${String(ttl.visibility)}`);
  }
  return {
    ttlMs: ttl.ttlMs,
    updateOnRead: ttl.updateType === 'on-read-and-write',
    returnExpired: ttl.visibility === 'return-expired-if-not-cleaned-up',
  };
}

export function isExpired(stored: TtlValue<unknown>, ttl: ResolvedTtl, now: number): boolean {
  return stored.timestamp + ttl.ttlMs <= now;
}

export function sameTtl(a: StateTtlConfig | undefined, b: StateTtlConfig | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return a.ttlMs === b.ttlMs && (a.updateType ?? 'on-create-and-write') === (b.updateType ?? 'on-create-and-write') && (a.visibility ?? 'never-return-expired') === (b.visibility ?? 'never-return-expired');
}
