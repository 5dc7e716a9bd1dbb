/**
 * The primary key of a row in the sqlite backend's table: the key group as two big-endian bytes,
 * then the state key (a number, a boolean or a string: see stateKeyOf).
 *
 * Invariants:
 *  1. Injective: distinct (key group, state key) pairs give distinct blobs, and stateKeyOfBlob
 *     gives the state key back exactly (strings as raw UTF-16 code units, so lone surrogates
 *     survive, which UTF-8 TEXT columns would not).
 *  2. Blobs sort by key group first (SQLite compares blobs with memcmp), so the rows of key groups
 *     a..b are exactly those with groupBound(a) <= k < groupBound(b + 1).
 */
import { TroupeError } from '../../core/errors.js';
import type { StateKey } from '../key-groups.js';

const NUMBER = 1;
const FALSE = 2;
const TRUE = 3;
const STRING = 4;

export function keyBlob(keyGroup: number, stateKey: StateKey): Buffer {
  switch (typeof stateKey) {
    case 'number': {
      const b = Buffer.allocUnsafe(11);
      b.writeUInt16BE(keyGroup, 0);
      b[2] = NUMBER;
      b.writeDoubleBE(stateKey, 3);
      return b;
    }
    case 'boolean': {
      const b = Buffer.allocUnsafe(3);
      b.writeUInt16BE(keyGroup, 0);
      b[2] = stateKey ? TRUE : FALSE;
      return b;
    }
    default: {
      const b = Buffer.allocUnsafe(3 + stateKey.length * 2);
      b.writeUInt16BE(keyGroup, 0);
      b[2] = STRING;
      b.write(stateKey, 3, 'utf16le');
      return b;
    }
  }
}

export function keyGroupOfBlob(blob: Uint8Array): number {
  return (blob[0]! << 8) | blob[1]!;
}

export function stateKeyOfBlob(blob: Buffer): StateKey {
  switch (blob[2]) {
    case NUMBER:
      if (blob.length === 11) return blob.readDoubleBE(3);
      break;
    case FALSE:
      return false;
    case TRUE:
      return true;
    case STRING:
      if ((blob.length & 1) === 1) return blob.toString('utf16le', 3);
      break;
    default:
      break;
  }
  throw new TroupeError('TROUPE_INTERNAL_ERROR', `sqlite keyed state: not a key blob (${blob.toString('hex')})`);
}

/** The smallest blob of key group `keyGroup` (and an exclusive upper bound of key group keyGroup - 1). */
export function groupBound(keyGroup: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(keyGroup, 0);
  return b;
}
