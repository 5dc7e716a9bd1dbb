/** TTL expiry of one stored value (the same rules as StateTable.cleanupExpired), for the sqlite backend's cache and sweep. */
import type { StateKey } from '../key-groups.js';
import type { StateKind } from '../state-descriptor.js';
import { isExpired, type ResolvedTtl, type TtlValue } from '../ttl.js';

export interface Expiry {
  /** Values, list elements or map entries removed. */
  readonly removed: number;
  /** What remains: the same object when nothing expired, undefined when nothing is left. */
  readonly kept: unknown;
}

export function withoutExpired(kind: StateKind, stored: unknown, ttl: ResolvedTtl, now: number): Expiry {
  const expired = (tv: unknown): boolean => isExpired(tv as TtlValue<unknown>, ttl, now);
  if (kind === 'list') {
    const list = stored as unknown[];
    const kept = list.filter((e) => !expired(e));
    if (kept.length === list.length) return { removed: 0, kept: stored };
    return { removed: list.length - kept.length, kept: kept.length === 0 ? undefined : kept };
  }
  if (kind === 'map') {
    const map = stored as Map<StateKey, unknown>;
    let kept: Map<StateKey, unknown> | undefined;
    let removed = 0;
    for (const [userKey, e] of map) {
      if (expired(e)) {
        kept ??= new Map(map);
        kept.delete(userKey);
        removed++;
      }
    }
    if (kept === undefined) return { removed: 0, kept: stored };
    return { removed, kept: kept.size === 0 ? undefined : kept };
  }
  return expired(stored) ? { removed: 1, kept: undefined } : { removed: 0, kept: stored };
}
