/**
 * Key groups: the unit of keyed state and of rescaling (Flink's KeyGroupRangeAssignment).
 *
 * Invariants:
 *  1. keyGroupFor(key, maxP) depends only on the key's value, never on the process or run
 *     (no object identity, no insertion order), so producers in different processes agree.
 *  2. Subtask i of p owns the contiguous range keyGroupRange(maxP, p, i); the ranges of
 *     0..p-1 partition [0, maxP).
 *  3. operatorIndexFor(keyGroup) = i exactly when keyGroup lies in keyGroupRange(maxP, p, i).
 */
import { TroupeError } from '../core/errors.js';

export const DEFAULT_MAX_PARALLELISM = 128;
export const UPPER_BOUND_MAX_PARALLELISM = 32768;

export interface KeyGroupRange {
  readonly start: number;
  /** Inclusive. */
  readonly end: number;
}

export function keyGroupRange(maxParallelism: number, parallelism: number, operatorIndex: number): KeyGroupRange {
  const start = Math.floor((operatorIndex * maxParallelism + parallelism - 1) / parallelism);
  const end = Math.floor(((operatorIndex + 1) * maxParallelism - 1) / parallelism);
  return { start, end };
}

export function operatorIndexForKeyGroup(maxParallelism: number, parallelism: number, keyGroup: number): number {
  return Math.floor((keyGroup * parallelism) / maxParallelism);
}

const KEY_SELECTOR = 'key selector returned';

export function keyGroupFor(key: unknown, maxParallelism: number): number {
  return (fmix32(hashKey(key, null, KEY_SELECTOR)) >>> 0) % maxParallelism;
}

export function operatorIndexForKey(key: unknown, maxParallelism: number, parallelism: number): number {
  return operatorIndexForKeyGroup(maxParallelism, parallelism, keyGroupFor(key, maxParallelism));
}

function notSerializable(key: unknown, why: string, role: string): TroupeError {
  let shown: string;
  try {
    shown = typeof key === 'symbol' ? key.toString() : typeof key === 'function' ? `function ${key.name || '(anonymous)'}` : String(key);
  } catch {
    shown = Object.prototype.toString.call(key);
  }
  return new TroupeError('TROUPE_KEY_NOT_SERIALIZABLE', `${role} ${shown}: ${why}`, {
    details: { type: typeof key },
  });
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

function hashString(s: string): number {
  // murmur3-style mixing over UTF-16 code units.
  let h = 0x9747b28c ^ s.length;
  for (let i = 0; i < s.length; i++) {
    let k = s.charCodeAt(i);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  return h;
}

function hashNumber(n: number, key: unknown, role: string): number {
  if (Number.isNaN(n)) throw notSerializable(key, 'NaN is not equal to itself, so it cannot identify state', role);
  if (Number.isInteger(n) && Math.abs(n) <= Number.MAX_SAFE_INTEGER) {
    const lo = n % 0x100000000 | 0;
    const hi = Math.floor(n / 0x100000000) | 0;
    return (Math.imul(hi, 31) + lo) | 0;
  }
  return hashString(String(n));
}

function hashKey(key: unknown, ancestors: Set<object> | null, role: string): number {
  switch (typeof key) {
    case 'string':
      return hashString(key);
    case 'number':
      return hashNumber(key === 0 ? 0 : key, key, role);
    case 'boolean':
      return key ? 1231 : 1237;
    case 'bigint':
      return hashString(`n:${key.toString()}`);
    case 'object': {
      if (key === null) throw notSerializable(key, 'null keys are not allowed', role);
      const seen = ancestors ?? new Set<object>();
      if (seen.has(key)) throw notSerializable(key, 'the key is a cyclic object', role);
      seen.add(key);
      let h = 17;
      if (Array.isArray(key)) {
        for (const element of key) h = (Math.imul(h, 31) + hashKey(element, seen, role)) | 0;
      } else if (key instanceof Date) {
        h = hashNumber(key.getTime(), key, role);
      } else {
        const proto = Object.getPrototypeOf(key) as unknown;
        if (proto !== Object.prototype && proto !== null) {
          throw notSerializable(key, 'only primitives, arrays, dates and plain objects can be keys', role);
        }
        for (const name of Object.keys(key).sort()) {
          h = (Math.imul(h, 31) + hashString(name)) | 0;
          h = (Math.imul(h, 31) + hashKey((key as Record<string, unknown>)[name], seen, role)) | 0;
        }
      }
      seen.delete(key);
      return h;
    }
    default:
      throw notSerializable(key, `a ${typeof key} cannot be serialized`, role);
  }
}

/**
 * The identity of a key inside keyed state: numbers and booleans as they are, strings as they are
 * unless they start with NUL, everything else as NUL + a tagged canonical form. The encoding is
 * injective: distinct keys never share state. Call only on keys that passed keyGroupFor.
 */
export type StateKey = string | number | boolean;

export function stateKeyOf(key: unknown): StateKey {
  switch (typeof key) {
    case 'number':
      return key === 0 ? 0 : key;
    case 'boolean':
      return key;
    case 'string':
      return key.charCodeAt(0) === 0 ? `\u0000${JSON.stringify(key)}` : key;
    default:
      return `\u0000${canonical(key)}`;
  }
}

/** Strings are quoted, bigints end in `n`, dates start with `D`: no two kinds of value collide. */
function canonical(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return value === 0 ? '0' : String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return `${value.toString()}n`;
    default:
      break;
  }
  if (value instanceof Date) return `D${value.getTime()}`;
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`)
    .join(',')}}`;
}

/**
 * The state key of a user key that is not a record key (MapState keys): the same rules as record
 * keys, so a user key that could not be a record key is refused with TROUPE_KEY_NOT_SERIALIZABLE.
 */
export function checkedStateKeyOf(key: unknown, role: string): StateKey {
  switch (typeof key) {
    case 'string':
    case 'boolean':
      return stateKeyOf(key);
    case 'number':
      if (!Number.isNaN(key)) return stateKeyOf(key);
      break;
    default:
      break;
  }
  hashKey(key, null, role);
  return stateKeyOf(key);
}

/**
 * The inverse of stateKeyOf: a key equal to the one encoded (0 for -0, a new Date, a plain object
 * with its properties in sorted order). Keyed state keeps only state keys; this gives the keys back.
 */
export function keyOfStateKey(stateKey: StateKey): unknown {
  if (typeof stateKey !== 'string' || stateKey.charCodeAt(0) !== 0) return stateKey;
  const parser = new CanonicalParser(stateKey);
  const value = parser.value();
  if (parser.pos !== stateKey.length) throw corrupt(stateKey);
  return value;
}

function corrupt(stateKey: string): TroupeError {
  return new TroupeError('TROUPE_INTERNAL_ERROR', `not a state key: ${JSON.stringify(stateKey)}`);
}

class CanonicalParser {
  pos = 1;
  constructor(private readonly s: string) {}

  value(): unknown {
    const { s } = this;
    switch (s[this.pos]) {
      case '"':
        return this.string();
      case '[': {
        this.pos++;
        const out: unknown[] = [];
        if (s[this.pos] === ']') {
          this.pos++;
          return out;
        }
        for (;;) {
          out.push(this.value());
          if (this.take() === ']') return out;
        }
      }
      case '{': {
        this.pos++;
        const out: Record<string, unknown> = {};
        if (s[this.pos] === '}') {
          this.pos++;
          return out;
        }
        for (;;) {
          const name = this.string();
          if (s[this.pos++] !== ':') throw corrupt(s);
          // defineProperty: a key named __proto__ stays an own property
          Object.defineProperty(out, name, { value: this.value(), enumerable: true, writable: true, configurable: true });
          if (this.take() === '}') return out;
        }
      }
      case 'D':
        this.pos++;
        return new Date(Number(this.token()));
      default: {
        const token = this.token();
        if (token === 'true') return true;
        if (token === 'false') return false;
        if (token.endsWith('n')) return BigInt(token.slice(0, -1));
        const n = Number(token);
        if (token === '' || Number.isNaN(n)) throw corrupt(s);
        return n;
      }
    }
  }

  /** Consumes a separator or a closing bracket and returns it. */
  private take(): string {
    const c = this.s[this.pos++];
    if (c !== ',' && c !== ']' && c !== '}') throw corrupt(this.s);
    return c;
  }

  private token(): string {
    const { s } = this;
    const start = this.pos;
    while (this.pos < s.length && s[this.pos] !== ',' && s[this.pos] !== ']' && s[this.pos] !== '}') this.pos++;
    return s.slice(start, this.pos);
  }

  private string(): string {
    const { s } = this;
    const start = this.pos;
    if (s[start] !== '"') throw corrupt(s);
    let i = start + 1;
    while (i < s.length && s[i] !== '"') i += s[i] === '\\' ? 2 : 1;
    if (i >= s.length) throw corrupt(s);
    this.pos = i + 1;
    return JSON.parse(s.slice(start, this.pos)) as string;
  }
}
