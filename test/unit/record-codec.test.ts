/**
 * Record codec (actors/network/record-codec.ts). Invariants cited from the module header:
 *  1. exact round trips of every carried type
 *  2. one shape dictionary per buffer
 *  3. add() is atomic
 *  4. depth cap; uncarried values throw TROUPE_RECORD_NOT_SERIALIZABLE naming the path
 *  5. hostile bytes decode or throw TROUPE_CODEC_CORRUPT, never partial data
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { RECORD_MAX_DEPTH, RecordEncoder, decodeRecords, decodeValue, encodeValue } from '../../actors/network/record-codec.js';
import { TroupeError } from '../../core/errors.js';
import { seededRng, type Rng } from '../helpers/prng.js';

function roundTrip(records: unknown[], maxRecordBytes = 1 << 20): unknown[] {
  const encoder = new RecordEncoder({ maxRecordBytes });
  for (const r of records) encoder.add(r);
  return decodeRecords(encoder.finish());
}

function one(value: unknown): unknown {
  return roundTrip([value])[0];
}

/** What t.deepEqual ignores: prototypes (Buffer vs Uint8Array, null vs Object) and key order. */
function structureMismatch(a: unknown, b: unknown, path = 'value'): string | undefined {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) {
    return typeof a === typeof b && (a === null) === (b === null) ? undefined : `${path}: ${typeof a} vs ${typeof b}`;
  }
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return `${path}: different prototypes`;
  if (a instanceof Uint8Array || a instanceof Date) return undefined;
  if (a instanceof Map && b instanceof Map) {
    const x = [...a.entries()];
    const y = [...b.entries()];
    for (let i = 0; i < x.length; i++) {
      const m = structureMismatch(x[i]![0], y[i]?.[0], `${path}<key ${i}>`) ?? structureMismatch(x[i]![1], y[i]?.[1], `${path}<value ${i}>`);
      if (m !== undefined) return m;
    }
    return undefined;
  }
  if (a instanceof Set && b instanceof Set) return structureMismatch([...a], [...b], path);
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.join('\u0000') !== kb.join('\u0000')) return `${path}: keys ${JSON.stringify(ka)} vs ${JSON.stringify(kb)}`;
  for (const k of ka) {
    const m = structureMismatch((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
    if (m !== undefined) return m;
  }
  return undefined;
}

function assertExact(t: ExecutionContext, actual: unknown, expected: unknown, message?: string): void {
  t.deepEqual(actual, expected, message);
  t.is(structureMismatch(actual, expected), undefined, message);
}

function withProtoKey(value: unknown): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  Object.defineProperty(o, '__proto__', { value, enumerable: true, writable: true, configurable: true });
  o.after = 1;
  return o;
}

const nexmarkBid = {
  auction: 1234,
  bidder: 55,
  price: 1.5,
  channel: 'Google',
  url: 'https://www.nexmark.com/abc_def/ghi_jkl/item.htm?query=1&channel_id=1234',
  dateTime: 1700000000000,
  extra: '',
};

// ---- exact round trips (invariant 1) ----

test('record codec - undefined, null and booleans round-trip', (t) => {
  t.deepEqual(roundTrip([undefined, null, true, false]), [undefined, null, true, false]);
});

test('record codec - numbers round-trip exactly, including -0, NaN, ±Infinity and integer boundaries', (t) => {
  const numbers = [
    0, -0, 1, -1, 63, 64, 127, 128, 255, 256, -128, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 2 ** 32, 2 ** 51, -(2 ** 51), 2 ** 51 + 1,
    2 ** 52, 2 ** 53, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 1.5, -2.25, 0.1, Math.PI, 5e-324, Number.MAX_VALUE, -Number.MAX_VALUE,
    NaN, Infinity, -Infinity, 1e300, 1700000000000,
  ];
  const decoded = roundTrip(numbers) as number[];
  for (let i = 0; i < numbers.length; i++) t.true(Object.is(decoded[i], numbers[i]), `${numbers[i]} came back as ${decoded[i]}`);
});

test('record codec - small integers take one byte and -0 does not collapse to 0', (t) => {
  t.is(encodeValue(5).length, 2);
  t.true(Object.is(decodeValue(encodeValue(-0)), -0));
});

test('record codec - strings round-trip: empty, control characters, ASCII and not at every length boundary', (t) => {
  const strings = ['', 'a', '\u0000\u0001\n\t\u007f', 'y'.repeat(100_000)];
  for (const n of [8, 9, 24, 25, 62, 63, 64, 127, 128, 16_384]) strings.push('x'.repeat(n), `${'x'.repeat(n - 1)}é`, `é${'x'.repeat(n - 1)}`);
  t.deepEqual(roundTrip(strings), strings);
});

test('record codec - emoji, CJK, combining marks and mixed scripts round-trip exactly', (t) => {
  const strings = ['😀', '👩‍👩‍👧‍👦', '🇩🇪🇯🇵', '日本語のテキスト', '漢字'.repeat(50), 'e\u0301\u0302', 'Z\u0351\u0354\u0361', 'ASCII then ü then 😀', 'Ωmega', '\uFEFF', '\uFFFD'];
  t.deepEqual(roundTrip(strings), strings);
});

test('record codec - a lone surrogate round-trips exactly', (t) => {
  const strings = ['\uD800', '\uDFFF', 'a\uD83Db', '\uDE00\uD83D', `${'x'.repeat(80)}\uDC00`, '😀'.slice(0, 1), '\uD800\uD800'];
  const decoded = roundTrip(strings) as string[];
  for (let i = 0; i < strings.length; i++) t.is(decoded[i], strings[i]);
});

test('record codec - object keys with lone surrogates and non-ASCII round-trip', (t) => {
  const o = { '\uD800': 1, 'clé': 2, '鍵': 3, '': 4, 'with space': 5 };
  assertExact(t, one(o), o);
});

test('record codec - bigints of any size and sign round-trip', (t) => {
  const values = [0n, 1n, -1n, 255n, 256n, -256n, 2n ** 64n, -(2n ** 64n) - 1n, 2n ** 1000n + 12345n, -(3n ** 700n)];
  t.deepEqual(roundTrip(values), values);
});

test('record codec - a Buffer decodes as a Buffer and a Uint8Array as a Uint8Array', (t) => {
  const [buf, u8] = roundTrip([Buffer.from([1, 2, 3]), new Uint8Array([4, 5])]) as [Uint8Array, Uint8Array];
  t.true(Buffer.isBuffer(buf));
  t.deepEqual([...buf], [1, 2, 3]);
  t.false(Buffer.isBuffer(u8));
  t.is(Object.getPrototypeOf(u8), Uint8Array.prototype);
  t.deepEqual([...u8], [4, 5]);
});

test('record codec - decoded bytes are copies, not views of the input', (t) => {
  const encoder = new RecordEncoder({ maxRecordBytes: 1024 });
  encoder.add({ b: Buffer.from('hello'), u: new Uint8Array([9, 9, 9]) });
  const wire = encoder.finish();
  const decoded = decodeRecords(wire)[0] as { b: Buffer; u: Uint8Array };
  t.not(decoded.u.buffer, wire.buffer);
  wire.fill(0);
  t.is(decoded.b.toString(), 'hello');
  t.deepEqual([...decoded.u], [9, 9, 9]);
});

test('record codec - a Buffer view into a larger allocation encodes only its bytes', (t) => {
  const big = Buffer.from('0123456789');
  const decoded = one(big.subarray(3, 6)) as Buffer;
  t.is(decoded.toString(), '345');
});

test('record codec - empty byte arrays round-trip with their type', (t) => {
  const [buf, u8] = roundTrip([Buffer.alloc(0), new Uint8Array(0)]) as [Uint8Array, Uint8Array];
  t.true(Buffer.isBuffer(buf));
  t.is(buf.length, 0);
  t.is(Object.getPrototypeOf(u8), Uint8Array.prototype);
});

test('record codec - Dates round-trip, including an invalid Date', (t) => {
  const dates = [new Date(0), new Date(1700000000123), new Date(-8.64e15), new Date(8.64e15), new Date(-1)];
  const decoded = roundTrip(dates) as Date[];
  for (let i = 0; i < dates.length; i++) t.is(decoded[i]!.getTime(), dates[i]!.getTime());
  const invalid = one(new Date(NaN));
  t.true(invalid instanceof Date);
  t.true(Number.isNaN((invalid as Date).getTime()));
});

test('record codec - array holes decode as undefined', (t) => {
  // eslint-disable-next-line no-sparse-arrays
  const decoded = one([1, , 3]) as unknown[];
  t.deepEqual(decoded, [1, undefined, 3]);
  t.true(1 in decoded);
});

test('record codec - nested arrays, Maps and Sets round-trip with order preserved', (t) => {
  const value = [
    [],
    [[1, [2, [3]]]],
    new Map<unknown, unknown>([
      ['b', 1],
      [2, 'a'],
      [{ k: 1 }, [null]],
      [null, new Set([3, 1, 2])],
    ]),
    new Set(['z', 'a', { x: 1 }]),
    new Map(),
    new Set(),
  ];
  assertExact(t, one(value), value);
});

test('record codec - plain objects keep their key order and null prototype', (t) => {
  const ordered = { z: 1, a: 2, m: { y: 1, b: 2 } };
  const bare = Object.assign(Object.create(null) as Record<string, unknown>, { k: 1, inner: { j: 2 } });
  const [a, b] = roundTrip([ordered, bare]) as [Record<string, unknown>, Record<string, unknown>];
  t.deepEqual(Object.keys(a), ['z', 'a', 'm']);
  t.deepEqual(Object.keys(a.m as object), ['y', 'b']);
  t.is(Object.getPrototypeOf(a), Object.prototype);
  t.is(Object.getPrototypeOf(b), null);
  t.is(Object.getPrototypeOf(b.inner), Object.prototype);
  assertExact(t, b, bare);
});

test('record codec - objects with and without a prototype but the same keys keep their own prototypes', (t) => {
  const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 });
  const decoded = roundTrip([{ a: 1 }, bare, { a: 2 }, bare]) as object[];
  t.deepEqual(
    decoded.map((o) => Object.getPrototypeOf(o) === null),
    [false, true, false, true],
  );
});

test('record codec - an own __proto__ key stays an own property and does not set the prototype', (t) => {
  const o = withProtoKey({ polluted: true });
  const decoded = one(o) as Record<string, unknown>;
  t.is(Object.getPrototypeOf(decoded), Object.prototype);
  t.deepEqual(Object.keys(decoded), ['__proto__', 'after']);
  t.deepEqual(Object.getOwnPropertyDescriptor(decoded, '__proto__')?.value, { polluted: true });
  t.is((decoded as { polluted?: unknown }).polluted, undefined);
});

test('record codec - integer-like keys keep the engine order', (t) => {
  const o = { b: 1, 10: 2, 2: 3, a: 4 };
  t.deepEqual(Object.keys(one(o) as object), Object.keys(o));
});

test('record codec - a Nexmark-like bid round-trips', (t) => {
  assertExact(t, one(nexmarkBid), nexmarkBid);
});

test('record codec - a value referenced twice decodes as two equal copies', (t) => {
  const shared = { x: [1, 2] };
  const decoded = one({ a: shared, b: shared, c: [shared, shared] }) as { a: object; b: object; c: object[] };
  t.deepEqual(decoded.a, shared);
  t.deepEqual(decoded.b, shared);
  t.not(decoded.a, decoded.b);
  t.not(decoded.c[0], decoded.c[1]);
});

test('record codec - encodeValue and decodeValue round-trip one value', (t) => {
  const value = { to: 'task-1', m: { kind: 'credit', n: 3, at: new Date(5), big: 7n, raw: Buffer.from('x') } };
  assertExact(t, decodeValue(encodeValue(value)), value);
});

// ---- random property test (invariant 1) ----

const KEY_POOL = ['a', 'b', 'id', 'name', 'π', '鍵', '', '0', '10', 'with space', '\uD800', 'x'.repeat(70), '__proto__'];
const SPECIAL_NUMBERS = [0, -0, NaN, Infinity, -Infinity, 2 ** 31, -(2 ** 31), 2 ** 51, -(2 ** 51), 2 ** 51 + 2, 2 ** 53, 5e-324, Number.MAX_VALUE];

function randomString(rng: Rng): string {
  const len = rng.chance(0.1) ? rng.int(60, 300) : rng.int(0, 12);
  const pool = rng.int(0, 5);
  let s = '';
  for (let i = 0; i < len; i++) {
    switch (rng.chance(0.7) ? pool : rng.int(0, 5)) {
      case 0:
        s += String.fromCharCode(rng.int(0x20, 0x7e));
        break;
      case 1:
        s += String.fromCharCode(rng.int(0x4e00, 0x9fff));
        break;
      case 2:
        s += String.fromCodePoint(rng.int(0x1f300, 0x1faff));
        break;
      case 3:
        s += `e${String.fromCharCode(rng.int(0x300, 0x36f))}`;
        break;
      case 4:
        s += String.fromCharCode(rng.int(0xd800, 0xdfff));
        break;
      default:
        s += String.fromCharCode(rng.int(0, 0xffff));
    }
  }
  return s;
}

function randomNumber(rng: Rng): number {
  switch (rng.int(0, 4)) {
    case 0:
      return rng.pick(SPECIAL_NUMBERS);
    case 1:
      return rng.int(-200, 200);
    case 2:
      return rng.int(-(2 ** 40), 2 ** 40) * rng.pick([1, 2 ** 12]);
    case 3:
      return (rng.next() - 0.5) * 10 ** rng.int(-10, 30);
    default:
      return rng.int(0, 1e9) / 7;
  }
}

function randomBigInt(rng: Rng): bigint {
  let digits = '';
  const n = rng.int(1, 40);
  for (let i = 0; i < n; i++) digits += rng.int(0, 9).toString();
  return rng.chance(0.5) ? -BigInt(digits) : BigInt(digits);
}

function randomBytes(rng: Rng): Buffer {
  const b = Buffer.alloc(rng.int(0, 40));
  for (let i = 0; i < b.length; i++) b[i] = rng.int(0, 255);
  return b;
}

function randomValue(rng: Rng, depth: number): unknown {
  const kind = rng.int(0, depth >= 4 ? 8 : 15);
  switch (kind) {
    case 0:
      return undefined;
    case 1:
      return null;
    case 2:
      return rng.chance(0.5);
    case 3:
    case 4:
      return randomNumber(rng);
    case 5:
    case 6:
      return randomString(rng);
    case 7:
      return randomBigInt(rng);
    case 8:
      return rng.chance(0.5) ? randomBytes(rng) : new Uint8Array(randomBytes(rng));
    case 9:
      return rng.chance(0.8) ? new Date(rng.int(-1e12, 4e12)) : new Date(NaN);
    case 10:
    case 11: {
      const a: unknown[] = [];
      const n = rng.int(0, 6);
      for (let i = 0; i < n; i++) a.push(randomValue(rng, depth + 1));
      return a;
    }
    case 12: {
      const m = new Map<unknown, unknown>();
      const n = rng.int(0, 4);
      for (let i = 0; i < n; i++) m.set(randomValue(rng, depth + 1), randomValue(rng, depth + 1));
      return m;
    }
    case 13: {
      const s = new Set<unknown>();
      const n = rng.int(0, 4);
      for (let i = 0; i < n; i++) s.add(randomValue(rng, depth + 1));
      return s;
    }
    default: {
      const o: Record<string, unknown> = rng.chance(0.15) ? (Object.create(null) as Record<string, unknown>) : {};
      const n = rng.int(0, 5);
      for (let i = 0; i < n; i++) {
        const key = rng.chance(0.8) ? rng.pick(KEY_POOL) : randomString(rng);
        Object.defineProperty(o, key, { value: randomValue(rng, depth + 1), enumerable: true, writable: true, configurable: true });
      }
      return o;
    }
  }
}

test('record codec - randomized: nested values round-trip exactly, Buffer vs Uint8Array and prototypes included (invariant 1)', (t) => {
  for (let seed = 1; seed <= 400; seed++) {
    const rng = seededRng(seed);
    const records: unknown[] = [];
    const n = rng.int(1, 12);
    for (let i = 0; i < n; i++) records.push(randomValue(rng, 0));
    const decoded = roundTrip(records);
    t.deepEqual(decoded, records, `seed ${seed}`);
    const mismatch = structureMismatch(decoded, records);
    if (mismatch !== undefined) t.fail(`seed ${seed}: ${mismatch}`);
    t.deepEqual(decodeValue(encodeValue(records)), records, `seed ${seed} (single value)`);
  }
});

test('record codec - randomized: records sharing a few shapes round-trip across many buffers of one encoder (invariant 2)', (t) => {
  const rng = seededRng(77);
  const encoder = new RecordEncoder({ maxRecordBytes: 1 << 16 });
  for (let buffer = 0; buffer < 50; buffer++) {
    const records: unknown[] = [];
    for (let i = rng.int(1, 40); i > 0; i--) {
      const r = rng.chance(0.5) ? { a: rng.int(0, 9), b: { id: rng.int(0, 9), name: randomString(rng) } } : { id: rng.int(0, 9), b: [{ a: 1 }] };
      records.push(r);
      encoder.add(r);
    }
    t.deepEqual(decodeRecords(encoder.finish()), records, `buffer ${buffer}`);
  }
});

// ---- shapes (invariant 2) ----

test('record codec - the shape dictionary makes 1000 same-shape objects much smaller than JSON', (t) => {
  const encoder = new RecordEncoder({ maxRecordBytes: 1 << 20 });
  const records = [];
  for (let i = 0; i < 1000; i++) records.push({ auction: 1000 + i, bidder: i % 97, price: i * 1.25, channel: 'Google', dateTime: 1700000000000 + i });
  for (const r of records) encoder.add(r);
  const wire = encoder.finish();
  const json = Buffer.byteLength(JSON.stringify(records));
  t.true(wire.length * 2.5 < json, `codec ${wire.length} bytes, JSON ${json}`);
  // the keys are written once, by the first object of the shape
  t.is(wire.toString('latin1').split('bidder').length - 1, 1);
  t.deepEqual(decodeRecords(wire), records);
});

test('record codec - each buffer carries its own dictionary, so any buffer decodes alone', (t) => {
  const encoder = new RecordEncoder({ maxRecordBytes: 1024 });
  encoder.add({ a: 1, b: 2 });
  const first = encoder.finish();
  encoder.add({ a: 3, b: 4 });
  const second = encoder.finish();
  t.deepEqual(decodeRecords(second), [{ a: 3, b: 4 }]);
  t.deepEqual(decodeRecords(first), [{ a: 1, b: 2 }]);
});

test('record codec - count and byteLength describe the buffer finish() returns, and finish() resets them', (t) => {
  const encoder = new RecordEncoder({ maxRecordBytes: 1024, initialCapacity: 8 });
  t.is(encoder.count, 0);
  for (let i = 0; i < 200; i++) encoder.add({ i, s: 'text' });
  t.is(encoder.count, 200);
  const expected = encoder.byteLength;
  const wire = encoder.finish();
  t.is(wire.length, expected);
  t.is(encoder.count, 0);
  t.deepEqual(decodeRecords(encoder.finish()), []);
});

// ---- size cap and atomic add (invariant 3) ----

test('record codec - a 16 MiB binary field under the cap round-trips', (t) => {
  const blob = Buffer.alloc(16 * 1024 * 1024);
  for (let i = 0; i < blob.length; i += 4093) blob[i] = i & 0xff;
  const encoder = new RecordEncoder({ maxRecordBytes: 17 * 1024 * 1024 });
  encoder.add({ id: 1, blob });
  const decoded = decodeRecords(encoder.finish())[0] as { id: number; blob: Buffer };
  t.is(decoded.id, 1);
  t.true(Buffer.isBuffer(decoded.blob));
  t.true(decoded.blob.equals(blob));
});

test('record codec - a record over the cap throws TROUPE_RECORD_TOO_LARGE and leaves the encoder usable with earlier records intact', (t) => {
  const encoder = new RecordEncoder({ maxRecordBytes: 1000 });
  encoder.add({ n: 1, s: 'first' });
  encoder.add({ n: 2, s: 'second' });
  const before = encoder.byteLength;
  const error = t.throws(() => encoder.add({ n: 3, s: 'x'.repeat(2000) }), { instanceOf: TroupeError, code: 'TROUPE_RECORD_TOO_LARGE' });
  t.is(error.details?.max, 1000);
  t.true((error.details?.bytes as number) > 1000);
  t.is(encoder.count, 2);
  t.is(encoder.byteLength, before);
  encoder.add({ n: 4, s: 'after' });
  t.deepEqual(decodeRecords(encoder.finish()), [
    { n: 1, s: 'first' },
    { n: 2, s: 'second' },
    { n: 4, s: 'after' },
  ]);
});

test('record codec - a record of exactly maxRecordBytes is accepted, one byte less is not', (t) => {
  const record = { id: 7, name: 'exact', tags: ['a', 'b'] };
  const size = encodeValue(record).length - 1; // minus the value's magic byte
  t.notThrows(() => new RecordEncoder({ maxRecordBytes: size }).add(record));
  const error = t.throws(() => new RecordEncoder({ maxRecordBytes: size - 1 }).add(record), { instanceOf: TroupeError, code: 'TROUPE_RECORD_TOO_LARGE' });
  t.deepEqual(error.details, { bytes: size, max: size - 1 });
});

test('record codec - a record far over the cap fails before it is buffered whole', (t) => {
  const encoder = new RecordEncoder({ maxRecordBytes: 1024, initialCapacity: 64 });
  const error = t.throws(() => encoder.add([Buffer.alloc(64 * 1024 * 1024)]), { instanceOf: TroupeError, code: 'TROUPE_RECORD_TOO_LARGE' });
  t.is(error.details?.max, 1024);
  t.true((error.details?.bytes as number) > 1024);
  encoder.add('ok');
  t.deepEqual(decodeRecords(encoder.finish()), ['ok']);
});

test('record codec - encodeValue honours maxBytes', (t) => {
  t.throws(() => encodeValue('x'.repeat(100), 50), { instanceOf: TroupeError, code: 'TROUPE_RECORD_TOO_LARGE' });
  t.notThrows(() => encodeValue('x'.repeat(10), 50));
});

test('record codec - a failed record that defined a new shape leaves no trace in the dictionary (invariant 3)', (t) => {
  const encoder = new RecordEncoder({ maxRecordBytes: 1024 });
  encoder.add({ a: 1 });
  const before = encoder.byteLength;
  t.throws(() => encoder.add({ p: 1, q: { r: 1, s: () => 0 } }), { instanceOf: TroupeError, code: 'TROUPE_RECORD_NOT_SERIALIZABLE' });
  t.is(encoder.byteLength, before);
  t.is(encoder.count, 1);
  encoder.add({ p: 2, q: { r: 3, s: 4 } });
  encoder.add({ p: 5, q: { r: 6, s: 7 } });
  t.deepEqual(decodeRecords(encoder.finish()), [{ a: 1 }, { p: 2, q: { r: 3, s: 4 } }, { p: 5, q: { r: 6, s: 7 } }]);
});

test('record codec - invalid encoder options are an invalid argument', (t) => {
  t.throws(() => new RecordEncoder({ maxRecordBytes: 0 }), { code: 'TROUPE_INVALID_ARGUMENT' });
  t.throws(() => new RecordEncoder({ maxRecordBytes: 10, initialCapacity: 1.5 }), { code: 'TROUPE_INVALID_ARGUMENT' });
});

// ---- values the codec cannot carry (invariant 4) ----

function notSerializable(t: ExecutionContext, record: unknown): string {
  const encoder = new RecordEncoder({ maxRecordBytes: 1 << 20 });
  const error = t.throws(() => encoder.add(record), { instanceOf: TroupeError, code: 'TROUPE_RECORD_NOT_SERIALIZABLE' });
  return (error.details?.path as string | undefined) ?? '';
}

test('record codec - a function names its path', (t) => {
  t.is(notSerializable(t, { user: { name: 'x', fn: () => 1 } }), 'record.user.fn');
});

test('record codec - a symbol value names its path through arrays and odd keys', (t) => {
  t.is(notSerializable(t, { items: [1, 2, Symbol('s')] }), 'record.items[2]');
  t.is(notSerializable(t, { 'odd key': [Symbol('s')] }), 'record["odd key"][0]');
});

test('record codec - values inside Maps and Sets name their path', (t) => {
  t.is(notSerializable(t, { m: new Map([['k', () => 0]]) }), 'record.m.get("k")');
  t.is(notSerializable(t, { s: new Set([1, Symbol('x')]) }), 'record.s.<set value 1>');
});

test('record codec - class instances, WeakMaps and typed arrays other than Uint8Array are not serializable', (t) => {
  class Point {
    x = 1;
  }
  for (const value of [new Point(), new WeakMap(), new Float64Array(2), new Int8Array(1), new Uint16Array(1), new ArrayBuffer(4), /re/, new Error('e'), Promise.resolve(), new Number(1)]) {
    t.is(notSerializable(t, { v: value }), 'record.v');
  }
});

test('record codec - an object with a symbol key is not serializable', (t) => {
  t.is(notSerializable(t, { inner: { a: 1, [Symbol('k')]: 2 } }), 'record.inner');
});

test('record codec - a symbol key on a later object of a known shape is still caught', (t) => {
  const encoder = new RecordEncoder({ maxRecordBytes: 1024 });
  encoder.add({ a: 1 });
  t.throws(() => encoder.add({ a: 2, [Symbol('k')]: 3 }), { instanceOf: TroupeError, code: 'TROUPE_RECORD_NOT_SERIALIZABLE' });
});

test('record codec - a cycle is not serializable and names where it closes', (t) => {
  const root: Record<string, unknown> = { a: { b: [] as unknown[] } };
  ((root.a as { b: unknown[] }).b).push(root);
  const encoder = new RecordEncoder({ maxRecordBytes: 1 << 20 });
  const error = t.throws(() => encoder.add(root), { instanceOf: TroupeError, code: 'TROUPE_RECORD_NOT_SERIALIZABLE' });
  t.is(error.details?.path, 'record.a.b[0]');
  t.regex(error.message, /cycle/);
});

test('record codec - a cycle below the scanned depth is caught too', (t) => {
  let deepest: Record<string, unknown> = {};
  const top = deepest;
  for (let i = 0; i < 100; i++) {
    const next = {};
    deepest.n = next;
    deepest = next;
  }
  deepest.back = top.n;
  t.regex(notSerializable(t, top), /\.back$/);
});

test('record codec - nesting at the depth cap round-trips, one level deeper is not serializable', (t) => {
  const nest = (levels: number): unknown => {
    let v: unknown = 'leaf';
    for (let i = 0; i < levels; i++) v = [v];
    return v;
  };
  const ok = nest(RECORD_MAX_DEPTH);
  t.deepEqual(one(ok), ok);
  const encoder = new RecordEncoder({ maxRecordBytes: 1 << 20 });
  const error = t.throws(() => encoder.add(nest(RECORD_MAX_DEPTH + 1)), { instanceOf: TroupeError, code: 'TROUPE_RECORD_NOT_SERIALIZABLE' });
  t.regex(error.message, /deeper than 1000/);
});

test('record codec - the error of encodeValue names the value', (t) => {
  const error = t.throws(() => encodeValue({ a: () => 0 }), { instanceOf: TroupeError, code: 'TROUPE_RECORD_NOT_SERIALIZABLE' });
  t.is(error.details?.path, 'value.a');
});

// ---- hostile input (invariant 5) ----

function corrupt(t: ExecutionContext, bytes: number[] | Buffer, decode: (b: Uint8Array) => unknown = decodeRecords): void {
  t.throws(() => decode(Buffer.from(bytes)), { instanceOf: TroupeError, code: 'TROUPE_CODEC_CORRUPT' });
}

test('record codec - empty input and a wrong magic byte are corrupt', (t) => {
  corrupt(t, []);
  corrupt(t, [], decodeValue);
  corrupt(t, encodeValue(1)); // a single value is not a record buffer
  corrupt(t, roundTripBytes([1]), decodeValue);
});

function roundTripBytes(records: unknown[]): Buffer {
  const encoder = new RecordEncoder({ maxRecordBytes: 1 << 20 });
  for (const r of records) encoder.add(r);
  return encoder.finish();
}

test('record codec - a trailing byte is corrupt', (t) => {
  corrupt(t, Buffer.concat([roundTripBytes([{ a: 1 }]), Buffer.from([0])]));
  corrupt(t, Buffer.concat([encodeValue('x'), Buffer.from([0])]), decodeValue);
});

test('record codec - an unknown tag is corrupt', (t) => {
  corrupt(t, [0xd1, 1, 0x20]);
  corrupt(t, [0xd1, 1, 0x3f]);
});

test('record codec - a reference to an undefined shape is corrupt', (t) => {
  corrupt(t, [0xd1, 1, 0x11, 0]);
  corrupt(t, [0xd1, 2, 0x10, 1, 0x41, 0x61, 0x80, 0x11, 1, 0x80]);
});

test('record codec - lengths and counts beyond the bytes left are corrupt, not allocated', (t) => {
  corrupt(t, [0xd1, 1, 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]); // a 4 GiB Buffer
  corrupt(t, [0xd1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0]); // 4 G records
  corrupt(t, [0xd1, 1, 0x0d, 0xff, 0xff, 0xff, 0x7f]); // a 268 M-element array
  corrupt(t, [0xd1, 1, 0x07, 0xff, 0xff, 0xff, 0x7f, 0x41]); // a UTF-16 string
  corrupt(t, [0xd1, 1, 0x08, 0xff, 0xff, 0xff, 0x7f]); // a bigint
  corrupt(t, [0xd1, 1, 0x10, 0xff, 0xff, 0xff, 0x7f]); // an object with 268 M keys
});

test('record codec - a varint longer than 8 bytes or beyond 2^53 is corrupt', (t) => {
  corrupt(t, [0xd1, 1, 0x04, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  corrupt(t, [0xd1, 1, 0x04, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
});

test('record codec - a truncated float, Date or object key is corrupt', (t) => {
  corrupt(t, [0xd1, 1, 0x05, 0, 0, 0]);
  corrupt(t, [0xd1, 1, 0x0c]);
  corrupt(t, [0xd1, 1, 0x0c, 0x41]); // a Date holding a string
  corrupt(t, [0xd1, 1, 0x10, 1, 0x80, 0x80]); // an object key that is a number
});

test('record codec - hostile nesting a hundred thousand levels deep is corrupt, not a stack overflow', (t) => {
  const bytes = [0xd1, 1];
  for (let i = 0; i < 100_000; i++) bytes.push(0x0d, 1);
  bytes.push(0);
  corrupt(t, bytes);
});

test('record codec - a hostile __proto__ key cannot set the prototype of a decoded object', (t) => {
  // object def with key "__proto__" whose value is an empty object
  const key = Buffer.from('__proto__');
  const bytes = Buffer.concat([Buffer.from([0xd1, 1, 0x10, 1, 0x40 | key.length]), key, Buffer.from([0x10, 0])]);
  const decoded = decodeRecords(bytes)[0] as object;
  t.is(Object.getPrototypeOf(decoded), Object.prototype);
  t.true(Object.prototype.hasOwnProperty.call(decoded, '__proto__'));
});

test('record codec - fuzz: truncated, bit-flipped and random bytes decode or throw TROUPE_CODEC_CORRUPT, 10k times (invariant 5)', (t) => {
  const rng = seededRng(4242);
  const samples: Buffer[] = [];
  for (let i = 0; i < 64; i++) {
    const records: unknown[] = [nexmarkBid];
    for (let j = rng.int(0, 5); j > 0; j--) records.push(randomValue(rng, 1));
    samples.push(roundTripBytes(records));
  }
  const failures: string[] = [];
  let decodedOk = 0;
  for (let i = 0; i < 10_000; i++) {
    const base = rng.pick(samples);
    let bytes: Buffer;
    const mode = i % 5;
    if (mode === 0) {
      bytes = base.subarray(0, rng.int(0, base.length - 1));
    } else if (mode === 1 || mode === 2) {
      bytes = Buffer.from(base);
      for (let k = rng.int(1, mode === 1 ? 1 : 4); k > 0; k--) bytes[rng.int(0, bytes.length - 1)]! ^= 1 << rng.int(0, 7);
    } else if (mode === 3) {
      bytes = Buffer.from(base);
      const at = rng.int(0, bytes.length - 1);
      bytes[at] = rng.int(0, 255);
      if (rng.chance(0.5)) bytes = Buffer.concat([bytes.subarray(0, at), randomBytes(rng), bytes.subarray(at)]);
    } else {
      bytes = Buffer.concat([Buffer.from([0xd1]), randomBytes(rng), randomBytes(rng)]);
    }
    try {
      decodeRecords(bytes);
      decodedOk++;
      if (mode === 0) failures.push(`iteration ${i}: a truncated buffer decoded`);
    } catch (e) {
      if (!(e instanceof TroupeError) || e.code !== 'TROUPE_CODEC_CORRUPT') failures.push(`iteration ${i} (mode ${mode}): ${String(e)}`);
    }
  }
  t.deepEqual(failures.slice(0, 10), []);
  // mutations must not all be trivially rejected by the magic byte
  t.true(decodedOk > 100, `only ${decodedOk} mutated buffers decoded`);
});

test('record codec - keys that look like code decode as plain keys (literal builders quote every key)', (t) => {
  const hostile = { '"}; throw new Error("x"); ({"': 1, '\u2028\u2029': 2, '${x}': 3, '\\': 4, 'a"b': 5, '0': 6 };
  const many = Array.from({ length: 3 }, () => ({ ...hostile }));
  const enc = new RecordEncoder({ maxRecordBytes: 1 << 20 });
  for (const r of many) enc.add(r);
  const out = decodeRecords(enc.finish());
  t.deepEqual(out, many);
  const proto = JSON.parse('{"__proto__": {"polluted": true}, "k": 1}') as Record<string, unknown>;
  const back = decodeValue(encodeValue(proto)) as Record<string, unknown>;
  t.is(Object.getPrototypeOf(back), Object.prototype);
  t.deepEqual(Object.keys(back), ['__proto__', 'k']);
  t.is(({} as Record<string, unknown>).polluted, undefined);
});
