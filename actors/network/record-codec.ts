/**
 * Binary codec for the records of one data buffer (replaces JSON on the wire between processes).
 * Pure: no I/O. Layout (all varints are unsigned LEB128, at most 8 bytes, ≤ 2^53 − 1):
 *
 *   records buffer := 0xD1 varint(count) value*count       single value := 0xD2 value
 *   value := 0x00 undefined | 0x01 null | 0x02 false | 0x03 true
 *          | 0x80+n  integer n in 0..127                   | 0x04 zigzag-varint integer (|n| ≤ 2^51)
 *          | 0x05 float64 LE                               | 0x40+n  UTF-8 string of n ≤ 63 bytes
 *          | 0x06 varint(bytes) UTF-8                      | 0x07 varint(units) UTF-16LE (not well-formed)
 *          | 0x08 / 0x09 varint(bytes) big-endian magnitude: bigint ≥ 0 / < 0
 *          | 0x0A Buffer / 0x0B Uint8Array: varint(len) bytes
 *          | 0x0C Date: a number value (0x80+n, 0x04 or 0x05; NaN for an invalid Date)
 *          | 0x0D Array / 0x0F Set: varint(n) value*n      | 0x0E Map: varint(n) (key value)*n
 *          | 0x10 object, 0x12 null-prototype object: varint(k) string-value*k value*k (defines a shape)
 *          | 0x11 object, 0x13 null-prototype object: varint(shape index) value*k
 *
 * Invariants:
 *  1. decode(encode(x)) equals x for every carried type, exactly: -0, NaN, lone surrogates, key
 *     order, Buffer vs Uint8Array, the object's prototype (Object.prototype or null).
 *  2. Shapes (key lists) form one dictionary per encoded buffer: the first object with a key list
 *     defines it inline, later ones refer to it by index. Indexes follow encoding order, so the
 *     decoder rebuilds the same dictionary by reading in order.
 *  3. RecordEncoder.add is atomic: whatever it throws, bytes, count and dictionary are as before.
 *  4. Nesting is capped at RECORD_MAX_DEPTH containers on both sides (no stack exhaustion); cycles,
 *     deeper values and uncarried types throw TROUPE_RECORD_NOT_SERIALIZABLE naming the path.
 *  5. The decoder trusts no length: every count is checked against the bytes left before
 *     anything is allocated, so any byte string decodes or throws TROUPE_CODEC_CORRUPT — never
 *     partial data. Decoded Buffers, Uint8Arrays and strings never alias the input.
 */
import { Buffer, constants as bufferConstants } from 'node:buffer';
import { isDate, isMap, isSet } from 'node:util/types';
import { TroupeError } from '../../core/errors.js';

export interface RecordEncoderOptions {
  readonly maxRecordBytes: number;
  readonly initialCapacity?: number;
  /** The largest grown buffer kept for the next finish() (default: 4 × initialCapacity, at least 1 MiB). */
  readonly retainBytes?: number;
}

const RECORDS_MAGIC = 0xd1;
const VALUE_MAGIC = 0xd2;

const T_UNDEFINED = 0x00;
const T_NULL = 0x01;
const T_FALSE = 0x02;
const T_TRUE = 0x03;
const T_INT = 0x04;
const T_FLOAT64 = 0x05;
const T_STRING = 0x06;
const T_STRING16 = 0x07;
const T_BIGINT_POS = 0x08;
const T_BIGINT_NEG = 0x09;
const T_BUFFER = 0x0a;
const T_UINT8ARRAY = 0x0b;
const T_DATE = 0x0c;
const T_ARRAY = 0x0d;
const T_MAP = 0x0e;
const T_SET = 0x0f;
const T_OBJECT_DEF = 0x10;
const T_OBJECT_REF = 0x11;
const T_NULL_OBJECT_DEF = 0x12;
const T_NULL_OBJECT_REF = 0x13;
const T_FIXSTR = 0x40;
const FIXSTR_MAX = 0x3f;
/** Up to this length a charCodeAt loop beats a native call (measured on Node 20). */
const ASCII_LOOP_MAX = 24;
const T_FIXINT = 0x80;
const FIXINT_MAX = 0x7f;

export const RECORD_MAX_DEPTH = 1000;
/** Zigzag of ±2^51 stays below 2^53, so varint integers are exact. */
const MAX_VARINT_INT = 2 ** 51;
/** V8 cannot hold a bigint of more than 2^30 bits. */
const MAX_BIGINT_BYTES = 2 ** 27;
/** Largest over-estimate of any ensure() call: the early size check must never fire falsely. */
const ENSURE_SLACK = 16;
/** Ancestors up to this depth are scanned for cycles; deeper ones are kept in a Set. */
const CYCLE_SCAN_DEPTH = 32;
/** Nesting depths with a one-entry cache of the last shape seen there. */
const RECENT_SHAPE_DEPTHS = 16;
/** The encoder keeps its shape trie across buffers, but not forever (objects used as maps). */
const MAX_TRIE_NODES = 1 << 16;
const DEFAULT_CAPACITY = 32 * 1024;
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** Native Buffer methods without the argument juggling of toString/write (present since Node 0.x). */
interface RawBuffer extends Buffer {
  utf8Slice(start: number, end: number): string;
  ucs2Slice(start: number, end: number): string;
  hexSlice(start: number, end: number): string;
  utf8Write(s: string, offset: number, length: number): number;
  ucs2Write(s: string, offset: number, length: number): number;
  hexWrite(s: string, offset: number, length: number): number;
}

const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

function varintSize(n: number): number {
  let size = 1;
  while (n > 0x7f) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function tooLarge(bytes: number, max: number, exact: boolean): TroupeError {
  const what = exact ? `${bytes} bytes` : `more than ${max} bytes (at least ${bytes})`;
  return new TroupeError('TROUPE_RECORD_TOO_LARGE', `record encodes to ${what}; the maximum record size is ${max} bytes`, {
    details: { bytes, max },
  });
}

/** Thrown inside the encoder; containers prepend their path segment on the way out. */
class Unserializable extends Error {
  readonly segments: string[] = [];
  constructor(readonly reason: string) {
    super(reason);
  }
}

function keySegment(key: string): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function mapKeySegment(key: unknown, i: number): string {
  if (typeof key === 'string') return `.get(${JSON.stringify(key)})`;
  if (typeof key === 'number' || typeof key === 'boolean') return `.get(${String(key)})`;
  if (typeof key === 'bigint') return `.get(${key}n)`;
  return `.<value of entry ${i}>`;
}

function describe(value: unknown): string {
  if (typeof value !== 'object' || value === null) return `a ${typeof value}`;
  const proto: unknown = Object.getPrototypeOf(value);
  const ctor = (proto as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  return typeof ctor === 'string' && ctor !== '' ? `an instance of ${ctor}` : 'an object with an unusual prototype';
}

function notSerializable(error: Unserializable, root: string): TroupeError {
  let path = root + error.segments.reverse().join('');
  if (path.length > 300) path = `${path.slice(0, 150)}…${path.slice(-150)}`;
  return new TroupeError('TROUPE_RECORD_NOT_SERIALIZABLE', `${path} is ${error.reason}, which the record codec cannot carry`, {
    details: { path, reason: error.reason },
  });
}

interface ShapeNode {
  /** Index in the current buffer's dictionary, valid while gen equals the writer's gen. */
  index: number;
  gen: number;
  next: Map<string, ShapeNode> | undefined;
}

const newShapeNode = (): ShapeNode => ({ index: -1, gen: -1, next: undefined });

class Writer {
  buf: RawBuffer;
  pos = 0;
  /** Where the value being encoded started, for the size limit. */
  start = 0;
  private root = newShapeNode();
  private trieNodes = 0;
  /** Per nesting depth, the last key list seen there and its trie node. */
  private readonly recent: { keys: string[]; node: ShapeNode }[] = [];
  private gen = 0;
  /** Shapes defined in this buffer, in index order. */
  private readonly defined: ShapeNode[] = [];
  private depth = 0;
  private readonly ancestors: unknown[] = [];
  private readonly deepAncestors = new Set<object>();

  constructor(
    capacity: number,
    readonly limit: number,
  ) {
    this.buf = Buffer.allocUnsafe(capacity) as RawBuffer;
  }

  get shapeCount(): number {
    return this.defined.length;
  }

  /** Undoes everything written since (pos, shapes): invariant 3. */
  rollback(pos: number, shapes: number): void {
    this.pos = pos;
    for (let i = shapes; i < this.defined.length; i++) this.defined[i]!.gen = -1;
    this.defined.length = shapes;
    this.depth = 0;
    this.ancestors.length = 0;
    this.deepAncestors.clear();
  }

  /** Starts a new buffer: a new shape dictionary, the bytes rewound; a buffer grown past keepUpTo shrinks to capacity. */
  reset(capacity: number, keepUpTo: number): void {
    this.pos = 0;
    this.gen++;
    this.defined.length = 0;
    if (this.trieNodes > MAX_TRIE_NODES) {
      this.root = newShapeNode();
      this.trieNodes = 0;
      this.recent.length = 0;
    }
    if (this.buf.length > keepUpTo) this.buf = Buffer.allocUnsafe(capacity) as RawBuffer;
  }

  private ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  private grow(n: number): void {
    const need = this.pos + n;
    const bytes = need - this.start;
    if (bytes > this.limit + ENSURE_SLACK) throw tooLarge(Math.max(this.limit + 1, bytes - ENSURE_SLACK), this.limit, false);
    if (need > bufferConstants.MAX_LENGTH) throw tooLarge(bytes, this.limit, false);
    const capacity = Math.min(Math.max(this.buf.length * 2, need), bufferConstants.MAX_LENGTH);
    const next = Buffer.allocUnsafe(capacity) as RawBuffer;
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** n: an integer in [0, 2^53); the caller has ensured varintSize(n) bytes. */
  private varint(n: number): void {
    const b = this.buf;
    let p = this.pos;
    while (n > 0x7f) {
      b[p++] = (n & 0x7f) | 0x80;
      n = n > 0xffffffff ? Math.floor(n / 128) : n >>> 7;
    }
    b[p++] = n;
    this.pos = p;
  }

  private head(tag: number, n: number, extra: number): void {
    this.ensure(6 + extra);
    this.buf[this.pos++] = tag;
    this.varint(n);
  }

  write(v: unknown): void {
    switch (typeof v) {
      case 'number':
        return this.writeNumber(v);
      case 'string':
        return this.writeString(v);
      case 'object':
        return v === null ? this.byte(T_NULL) : this.writeObject(v);
      case 'boolean':
        return this.byte(v ? T_TRUE : T_FALSE);
      case 'undefined':
        return this.byte(T_UNDEFINED);
      case 'bigint':
        return this.writeBigInt(v);
      default:
        throw new Unserializable(`a ${typeof v}`);
    }
  }

  private writeNumber(v: number): void {
    if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
      if (v >= 0 && v <= FIXINT_MAX) return this.byte(T_FIXINT | v);
      this.ensure(6);
      this.buf[this.pos++] = T_INT;
      this.varint(((v << 1) ^ (v >> 31)) >>> 0);
    } else if (Number.isInteger(v) && v !== 0 && v <= MAX_VARINT_INT && v >= -MAX_VARINT_INT) {
      this.ensure(9);
      this.buf[this.pos++] = T_INT;
      this.varint(v > 0 ? v * 2 : -v * 2 - 1);
    } else {
      this.ensure(9);
      this.buf[this.pos] = T_FLOAT64;
      this.buf.writeDoubleLE(v, this.pos + 1);
      this.pos += 9;
    }
  }

  private writeString(s: string): void {
    const len = s.length;
    if (len <= ASCII_LOOP_MAX) {
      // a non-ASCII string needs at least as many bytes, so this ensure never over-asks
      this.ensure(1 + len);
      const b = this.buf;
      let p = this.pos;
      b[p++] = T_FIXSTR | len;
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[p++] = c;
      }
      if (i === len) {
        this.pos = p;
        return;
      }
    } else if (this.pos + 6 + 3 * len <= this.buf.length) {
      // one native call instead of a byte count and a write: UTF-8 as long as the string is ASCII
      const head = len <= FIXSTR_MAX ? 1 : 1 + varintSize(len);
      if (this.buf.utf8Write(s, this.pos + head, 3 * len) === len) {
        if (head === 1) {
          this.buf[this.pos++] = T_FIXSTR | len;
        } else {
          this.buf[this.pos++] = T_STRING;
          this.varint(len);
        }
        this.pos += len;
        return;
      }
    }
    const bytes = Buffer.byteLength(s, 'utf8');
    if (bytes !== len && !isWellFormed(s)) {
      this.head(T_STRING16, len, 2 * len);
      this.pos += this.buf.ucs2Write(s, this.pos, 2 * len);
    } else {
      if (bytes <= FIXSTR_MAX) this.byte(T_FIXSTR | bytes);
      else this.head(T_STRING, bytes, 0);
      this.ensure(bytes);
      this.pos += this.buf.utf8Write(s, this.pos, bytes);
    }
  }

  private writeBigInt(v: bigint): void {
    const negative = v < 0n;
    let hex = (negative ? -v : v).toString(16);
    if (hex.length % 2 === 1) hex = `0${hex}`;
    const bytes = hex.length / 2;
    this.head(negative ? T_BIGINT_NEG : T_BIGINT_POS, bytes, bytes);
    this.pos += this.buf.hexWrite(hex, this.pos, bytes);
  }

  private writeBytes(tag: number, v: Uint8Array): void {
    const len = v.byteLength;
    this.head(tag, len, len);
    this.buf.set(v, this.pos);
    this.pos += len;
  }

  private writeObject(v: object): void {
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto === Object.prototype) return this.writePlain(v as Record<string, unknown>, T_OBJECT_DEF);
    if (proto === null) return this.writePlain(v as Record<string, unknown>, T_NULL_OBJECT_DEF);
    if (proto === Array.prototype) return this.writeArray(v as unknown[]);
    if (proto === Buffer.prototype && ArrayBuffer.isView(v)) return this.writeBytes(T_BUFFER, v as Uint8Array);
    if (proto === Uint8Array.prototype && ArrayBuffer.isView(v)) return this.writeBytes(T_UINT8ARRAY, v as Uint8Array);
    if (proto === Date.prototype && isDate(v)) {
      this.byte(T_DATE);
      return this.writeNumber(v.getTime());
    }
    if (proto === Map.prototype && isMap(v)) return this.writeMap(v);
    if (proto === Set.prototype && isSet(v)) return this.writeSet(v);
    throw new Unserializable(describe(v));
  }

  private enter(v: object): void {
    const d = this.depth;
    if (d >= RECORD_MAX_DEPTH) throw new Unserializable(`nested deeper than ${RECORD_MAX_DEPTH} levels`);
    const scan = d < CYCLE_SCAN_DEPTH ? d : CYCLE_SCAN_DEPTH;
    const ancestors = this.ancestors;
    for (let i = 0; i < scan; i++) if (ancestors[i] === v) throw new Unserializable('a reference to an enclosing value (a cycle)');
    if (d < CYCLE_SCAN_DEPTH) {
      ancestors[d] = v;
    } else {
      if (this.deepAncestors.has(v)) throw new Unserializable('a reference to an enclosing value (a cycle)');
      this.deepAncestors.add(v);
    }
    this.depth = d + 1;
  }

  private leave(v: object): void {
    const d = --this.depth;
    if (d < CYCLE_SCAN_DEPTH) this.ancestors[d] = undefined;
    else this.deepAncestors.delete(v);
  }

  private walkShape(keys: string[]): ShapeNode {
    let node = this.root;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      let next = node.next?.get(key);
      if (next === undefined) {
        next = newShapeNode();
        (node.next ??= new Map()).set(key, next);
        this.trieNodes++;
      }
      node = next;
    }
    return node;
  }

  /**
   * Objects at one depth usually repeat one shape. for-in walks V8's enum cache without
   * allocating, so a hit costs neither Object.keys nor a trie walk, and values load fast.
   * A polluted Object.prototype (inherited enumerable keys) never matches and takes the slow path.
   */
  private writePlain(o: Record<string, unknown>, defTag: number): void {
    if (Object.getOwnPropertySymbols(o).length > 0) throw new Unserializable('an object with symbol keys');
    const depth = this.depth;
    let recent = depth < RECENT_SHAPE_DEPTHS ? this.recent[depth] : undefined;
    let n = 0;
    if (recent !== undefined) {
      const last = recent.keys;
      for (const k in o) {
        if (last[n] !== k) {
          n = -1;
          break;
        }
        n++;
      }
      if (n !== last.length) recent = undefined;
    }
    const hit = recent !== undefined;
    let keys: string[];
    let node: ShapeNode;
    if (recent !== undefined) {
      keys = recent.keys;
      node = recent.node;
    } else {
      keys = Object.keys(o);
      n = keys.length;
      node = this.walkShape(keys);
      if (depth < RECENT_SHAPE_DEPTHS) this.recent[depth] = { keys, node };
    }
    if (node.gen === this.gen) {
      this.head(defTag + 1, node.index, 0);
    } else {
      node.gen = this.gen;
      node.index = this.defined.length;
      this.defined.push(node);
      this.head(defTag, n, 0);
      for (let i = 0; i < n; i++) this.writeString(keys[i]!);
    }
    this.enter(o);
    let i = 0;
    try {
      if (hit) {
        for (const k in o) {
          this.write(o[k]);
          i++;
        }
        // a getter deleted a key not yet visited
        if (i !== n) throw new Unserializable('an object whose getters changed its keys while it was encoded');
      } else {
        for (; i < n; i++) this.write(o[keys[i]!]);
      }
    } catch (e) {
      if (e instanceof Unserializable && i < n) e.segments.push(keySegment(keys[i]!));
      throw e;
    }
    this.leave(o);
  }

  private writeArray(a: unknown[]): void {
    const n = a.length;
    this.head(T_ARRAY, n, 0);
    this.enter(a);
    let i = 0;
    try {
      for (; i < n; i++) this.write(a[i]);
    } catch (e) {
      if (e instanceof Unserializable) e.segments.push(`[${i}]`);
      throw e;
    }
    this.leave(a);
  }

  private writeMap(m: Map<unknown, unknown>): void {
    this.head(T_MAP, m.size, 0);
    this.enter(m);
    let i = 0;
    let segment = '';
    try {
      for (const [k, v] of m) {
        segment = `.<key of entry ${i}>`;
        this.write(k);
        segment = mapKeySegment(k, i);
        this.write(v);
        i++;
      }
    } catch (e) {
      if (e instanceof Unserializable) e.segments.push(segment);
      throw e;
    }
    this.leave(m);
  }

  private writeSet(s: Set<unknown>): void {
    this.head(T_SET, s.size, 0);
    this.enter(s);
    let i = 0;
    try {
      for (const v of s) {
        this.write(v);
        i++;
      }
    } catch (e) {
      if (e instanceof Unserializable) e.segments.push(`.<set value ${i}>`);
      throw e;
    }
    this.leave(s);
  }
}

function checkLimit(name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 1) throw new TroupeError('TROUPE_INVALID_ARGUMENT', `${name} must be a positive integer, got ${n}`);
}

export class RecordEncoder {
  private readonly writer: Writer;
  private readonly maxRecordBytes: number;
  private readonly capacity: number;
  private readonly retainBytes: number;
  private records = 0;

  constructor(options: RecordEncoderOptions) {
    checkLimit('maxRecordBytes', options.maxRecordBytes);
    const capacity = options.initialCapacity ?? DEFAULT_CAPACITY;
    checkLimit('initialCapacity', capacity);
    this.maxRecordBytes = options.maxRecordBytes;
    this.capacity = capacity;
    this.retainBytes = options.retainBytes ?? Math.max(capacity * 4, 1 << 20);
    checkLimit('retainBytes', this.retainBytes);
    this.writer = new Writer(capacity, options.maxRecordBytes);
  }

  /** Appends one record. On TROUPE_RECORD_TOO_LARGE or TROUPE_RECORD_NOT_SERIALIZABLE the buffer is left exactly as before the call. */
  add(record: unknown): void {
    const w = this.writer;
    const pos = w.pos;
    const shapes = w.shapeCount;
    w.start = pos;
    try {
      w.write(record);
    } catch (e) {
      w.rollback(pos, shapes);
      throw e instanceof Unserializable ? notSerializable(e, 'record') : e;
    }
    const bytes = w.pos - pos;
    if (bytes > this.maxRecordBytes) {
      w.rollback(pos, shapes);
      throw tooLarge(bytes, this.maxRecordBytes, true);
    }
    this.records++;
  }

  /** Records in the current buffer. */
  get count(): number {
    return this.records;
  }

  /** Exactly the length finish() would return now. */
  get byteLength(): number {
    return 1 + varintSize(this.records) + this.writer.pos;
  }

  /** The encoded buffer (header with record count + records); resets for the next buffer. */
  finish(): Buffer {
    const w = this.writer;
    const head = 1 + varintSize(this.records);
    const out = Buffer.allocUnsafe(head + w.pos);
    out[0] = RECORDS_MAGIC;
    let n = this.records;
    for (let p = 1; p < head; p++) {
      out[p] = p < head - 1 ? (n & 0x7f) | 0x80 : n;
      n = Math.floor(n / 128);
    }
    w.buf.copy(out, head, 0, w.pos);
    // a buffer grown by a huge record is not kept for the ones after it
    w.reset(this.capacity, this.retainBytes);
    this.records = 0;
    return out;
  }
}

/** One value with its own shape dictionary (control messages). */
export function encodeValue(value: unknown, maxBytes: number = bufferConstants.MAX_LENGTH): Buffer {
  checkLimit('maxBytes', maxBytes);
  const w = new Writer(256, maxBytes);
  w.byte(VALUE_MAGIC);
  try {
    w.write(value);
  } catch (e) {
    throw e instanceof Unserializable ? notSerializable(e, 'value') : e;
  }
  if (w.pos > maxBytes) throw tooLarge(w.pos, maxBytes, true);
  return w.buf.subarray(0, w.pos);
}

// ---- decoding ----

const SHORT_ASCII_MAX = 8;
const fromCharCode = String.fromCharCode;

interface Shape {
  readonly keys: string[];
  readonly hasProtoKey: boolean;
  /** Set on first use: the literal builder, or null when the shape does not get one. */
  build?: Builder | null;
}

function corrupt(reason: string, offset: number): never {
  throw new TroupeError('TROUPE_CODEC_CORRUPT', `record buffer does not decode: ${reason} at byte ${offset}`, {
    details: { reason, offset },
  });
}

class Reader {
  pos = 1;
  private depth = 0;
  private readonly shapes: Shape[] = [];

  constructor(
    private readonly buf: RawBuffer,
    readonly end: number,
  ) {}

  /** Fails unless n more bytes are left (n may be a bogus length from the wire). */
  private need(n: number): void {
    if (n > this.end - this.pos) corrupt(`length ${n} exceeds the ${this.end - this.pos} bytes left`, this.pos);
  }

  varint(): number {
    const b = this.buf;
    let p = this.pos;
    if (p >= this.end) corrupt('truncated', p);
    let c = b[p++]!;
    if (c < 0x80) {
      this.pos = p;
      return c;
    }
    let n = c & 0x7f;
    let scale = 128;
    for (let i = 1; i < 8; i++) {
      if (p >= this.end) corrupt('truncated varint', p);
      c = b[p++]!;
      n += (c & 0x7f) * scale;
      if (c < 0x80) {
        if (n > Number.MAX_SAFE_INTEGER) corrupt('varint exceeds 2^53', this.pos);
        this.pos = p;
        return n;
      }
      scale *= 128;
    }
    return corrupt('varint longer than 8 bytes', this.pos);
  }

  read(): unknown {
    if (this.pos >= this.end) corrupt('truncated', this.pos);
    const tag = this.buf[this.pos++]!;
    if (tag >= T_FIXINT) return tag - T_FIXINT;
    if (tag >= T_FIXSTR) return this.utf8(tag - T_FIXSTR);
    switch (tag) {
      case T_UNDEFINED:
        return undefined;
      case T_NULL:
        return null;
      case T_FALSE:
        return false;
      case T_TRUE:
        return true;
      case T_INT:
      case T_FLOAT64:
        return this.number(tag);
      case T_STRING:
        return this.utf8(this.varint());
      case T_STRING16:
        return this.utf16();
      case T_BIGINT_POS:
        return this.bigint();
      case T_BIGINT_NEG:
        return -this.bigint();
      case T_BUFFER:
        return Buffer.from(this.bytes());
      case T_UINT8ARRAY: {
        const view = this.bytes();
        const copy = new Uint8Array(view.length);
        copy.set(view);
        return copy;
      }
      case T_DATE: {
        if (this.pos >= this.end) corrupt('truncated', this.pos);
        const inner = this.buf[this.pos++]!;
        if (inner >= T_FIXINT) return new Date(inner - T_FIXINT);
        if (inner !== T_INT && inner !== T_FLOAT64) corrupt(`a Date holds tag ${inner}`, this.pos - 1);
        return new Date(this.number(inner));
      }
      case T_ARRAY:
        return this.array();
      case T_MAP:
        return this.map();
      case T_SET:
        return this.set();
      case T_OBJECT_DEF:
      case T_NULL_OBJECT_DEF:
        return this.object(this.defineShape(), tag === T_NULL_OBJECT_DEF);
      case T_OBJECT_REF:
      case T_NULL_OBJECT_REF: {
        const at = this.pos;
        const index = this.varint();
        const shape = this.shapes[index];
        if (shape === undefined) return corrupt(`shape ${index} is not defined (${this.shapes.length} are)`, at);
        return this.object(shape, tag === T_NULL_OBJECT_REF);
      }
      default:
        return corrupt(`unknown tag ${tag}`, this.pos - 1);
    }
  }

  private number(tag: number): number {
    if (tag === T_FLOAT64) {
      this.need(8);
      const v = this.buf.readDoubleLE(this.pos);
      this.pos += 8;
      return v;
    }
    const zz = this.varint();
    if (zz <= 0x7fffffff) return (zz >>> 1) ^ -(zz & 1);
    return zz % 2 === 0 ? zz / 2 : -(zz + 1) / 2;
  }

  private utf8(n: number): string {
    this.need(n);
    const p = this.pos;
    this.pos += n;
    if (n > SHORT_ASCII_MAX) return this.buf.utf8Slice(p, p + n);
    const b = this.buf;
    let bits = 0;
    for (let i = p; i < p + n; i++) bits |= b[i]!;
    if (bits >= 0x80) return b.utf8Slice(p, p + n);
    // short ASCII (names, channels, codes): a native call costs more than the string
    switch (n) {
      case 0:
        return '';
      case 1:
        return fromCharCode(b[p]!);
      case 2:
        return fromCharCode(b[p]!, b[p + 1]!);
      case 3:
        return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!);
      case 4:
        return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!);
      case 5:
        return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!);
      case 6:
        return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!);
      case 7:
        return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!);
      default:
        return fromCharCode(b[p]!, b[p + 1]!, b[p + 2]!, b[p + 3]!, b[p + 4]!, b[p + 5]!, b[p + 6]!, b[p + 7]!);
    }
  }

  private utf16(): string {
    const units = this.varint();
    this.need(2 * units);
    const start = this.pos;
    this.pos += 2 * units;
    return this.buf.ucs2Slice(start, start + 2 * units);
  }

  private bigint(): bigint {
    const n = this.varint();
    this.need(n);
    if (n > MAX_BIGINT_BYTES) corrupt(`a bigint of ${n} bytes`, this.pos);
    const start = this.pos;
    this.pos += n;
    return n === 0 ? 0n : BigInt(`0x${this.buf.hexSlice(start, start + n)}`);
  }

  private bytes(): Buffer {
    const n = this.varint();
    this.need(n);
    const start = this.pos;
    this.pos += n;
    return this.buf.subarray(start, start + n);
  }

  private enter(): void {
    if (++this.depth > RECORD_MAX_DEPTH) corrupt(`nesting deeper than ${RECORD_MAX_DEPTH}`, this.pos);
  }

  /** Each element takes at least one byte: a count beyond the bytes left is corrupt, not allocated. */
  private count(bytesEach: number): number {
    const at = this.pos;
    const n = this.varint();
    if (n * bytesEach > this.end - this.pos) corrupt(`count ${n} exceeds the bytes left`, at);
    return n;
  }

  private array(): unknown[] {
    const n = this.count(1);
    this.enter();
    const a: unknown[] = [];
    for (let i = 0; i < n; i++) a.push(this.read());
    this.depth--;
    return a;
  }

  private map(): Map<unknown, unknown> {
    const n = this.count(2);
    this.enter();
    const m = new Map<unknown, unknown>();
    for (let i = 0; i < n; i++) {
      const k = this.read();
      m.set(k, this.read());
    }
    this.depth--;
    return m;
  }

  private set(): Set<unknown> {
    const n = this.count(1);
    this.enter();
    const s = new Set<unknown>();
    for (let i = 0; i < n; i++) s.add(this.read());
    this.depth--;
    return s;
  }

  private defineShape(): Shape {
    const n = this.count(2);
    const keys: string[] = [];
    let hasProtoKey = false;
    for (let i = 0; i < n; i++) {
      if (this.pos >= this.end) corrupt('truncated', this.pos);
      const tag = this.buf[this.pos++]!;
      let key: string;
      if (tag >= T_FIXSTR && tag < T_FIXINT) key = this.utf8(tag - T_FIXSTR);
      else if (tag === T_STRING) key = this.utf8(this.varint());
      else if (tag === T_STRING16) key = this.utf16();
      else return corrupt(`an object key has tag ${tag}`, this.pos - 1);
      if (key === '__proto__') hasProtoKey = true;
      keys.push(key);
    }
    const shape = { keys, hasProtoKey };
    this.shapes.push(shape);
    return shape;
  }

  private object(shape: Shape, nullProto: boolean): Record<string, unknown> {
    this.enter();
    if (!nullProto && !shape.hasProtoKey) {
      shape.build ??= literalBuilder(shape.keys);
      if (shape.build !== null) {
        const built = shape.build(this);
        this.depth--;
        return built;
      }
    }
    const o: Record<string, unknown> = nullProto ? (Object.create(null) as Record<string, unknown>) : {};
    const keys = shape.keys;
    const n = keys.length;
    if (shape.hasProtoKey) {
      // assignment would set the prototype; an own property named __proto__ must be defined
      for (let i = 0; i < n; i++) {
        Object.defineProperty(o, keys[i]!, { value: this.read(), writable: true, enumerable: true, configurable: true });
      }
    } else {
      for (let i = 0; i < n; i++) o[keys[i]!] = this.read();
    }
    this.depth--;
    return o;
  }
}

function reader(bytes: Uint8Array, magic: number, what: string): Reader {
  const buf = (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) as RawBuffer;
  if (buf.length === 0) corrupt(`empty ${what}`, 0);
  if (buf[0] !== magic) corrupt(`${what} starts with 0x${buf[0]!.toString(16)}, not 0x${magic.toString(16)}`, 0);
  return new Reader(buf, buf.length);
}

export function decodeRecords(bytes: Uint8Array): unknown[] {
  const r = reader(bytes, RECORDS_MAGIC, 'record buffer');
  const at = r.pos;
  const count = r.varint();
  if (count > r.end - r.pos) corrupt(`record count ${count} exceeds the bytes left`, at);
  const records: unknown[] = [];
  for (let i = 0; i < count; i++) records.push(r.read());
  if (r.pos !== r.end) corrupt(`${r.end - r.pos} trailing bytes`, r.pos);
  return records;
}

export function decodeValue(bytes: Uint8Array): unknown {
  const r = reader(bytes, VALUE_MAGIC, 'value');
  const value = r.read();
  if (r.pos !== r.end) corrupt(`${r.end - r.pos} trailing bytes`, r.pos);
  return value;
}

type Builder = (r: { read(): unknown }) => Record<string, unknown>;

const BUILDERS = new Map<string, Builder>();
const MAX_BUILDERS = 1024;
const MAX_BUILDER_KEYS = 64;

/**
 * A function that builds an object of this shape as one object literal, reading its values in
 * order. Objects decoded this way share V8's hidden class with each other and with objects the
 * user's code builds the same way, which makes the decoder and every later property access
 * faster than assigning keys one by one. Keys enter the source only through JSON.stringify (a
 * quoted string literal, never code); shapes with a `__proto__` key never come here (a quoted
 * `"__proto__":` in a literal would set the prototype). Cached across buffers, bounded.
 */
function literalBuilder(keys: readonly string[]): Builder | null {
  if (keys.length === 0 || keys.length > MAX_BUILDER_KEYS) return null;
  const id = keys.join('\u0000');
  let b = BUILDERS.get(id);
  if (b === undefined) {
    if (BUILDERS.size >= MAX_BUILDERS) BUILDERS.delete(BUILDERS.keys().next().value!);
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    b = new Function('r', `return {${keys.map((k) => `${JSON.stringify(k)}: r.read()`).join(', ')}};`) as Builder;
    BUILDERS.set(id, b);
  }
  return b;
}
