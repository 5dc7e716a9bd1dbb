/**
 * Byte-length framing (actors/transport/frames.ts). Invariants cited from the module header:
 *  1. frames come out as they went in, whatever the chunking
 *  2. linear work: no re-concatenation while a frame is incomplete
 *  3. the length is checked when its header arrives, before the body
 *  4. a decoder that threw stays dead
 */
import test from 'ava';
import { FrameDecoder, encodeFrame, type Frame } from '../../actors/transport/frames.js';
import { TroupeError } from '../../core/errors.js';
import { seededRng, type Rng } from '../helpers/prng.js';

function wire(kind: number, payload: Uint8Array): Buffer {
  return Buffer.concat(encodeFrame(kind, payload));
}

function plain(frames: Frame[]): { kind: number; payload: number[] }[] {
  return frames.map((f) => ({ kind: f.kind, payload: [...f.payload] }));
}

function randomFrame(rng: Rng): { kind: number; payload: Buffer } {
  const payload = Buffer.alloc(rng.chance(0.1) ? rng.int(1000, 70_000) : rng.int(0, 40));
  for (let i = 0; i < payload.length; i++) payload[i] = rng.int(0, 255);
  return { kind: rng.int(0, 255), payload };
}

// ---- encoding ----

test('frames - encodeFrame returns a 5-byte header (big-endian length of kind + payload, then kind) and the payload itself', (t) => {
  const payload = Buffer.from('abc');
  const [header, body] = encodeFrame(7, payload);
  t.deepEqual([...header!], [0, 0, 0, 4, 7]);
  t.is(body, payload);
});

test('frames - encodeFrame carries a plain Uint8Array payload without copying', (t) => {
  const bytes = new Uint8Array([1, 2, 3, 4]).subarray(1, 3);
  const [, body] = encodeFrame(1, bytes);
  t.true(Buffer.isBuffer(body));
  t.is(body!.buffer, bytes.buffer);
  t.deepEqual([...body!], [2, 3]);
});

test('frames - a kind outside 0..255 is an invalid argument', (t) => {
  for (const kind of [-1, 256, 1.5, NaN]) {
    t.throws(() => encodeFrame(kind, Buffer.alloc(0)), { instanceOf: TroupeError, code: 'TROUPE_INVALID_ARGUMENT' });
  }
});

// ---- decoding (invariant 1) ----

test('frames - one chunk holding many frames yields them all in order', (t) => {
  const decoder = new FrameDecoder(1024);
  const stream = Buffer.concat([wire(1, Buffer.from('a')), wire(2, Buffer.alloc(0)), wire(3, Buffer.from('xyz'))]);
  t.deepEqual(plain(decoder.push(stream)), [
    { kind: 1, payload: [0x61] },
    { kind: 2, payload: [] },
    { kind: 3, payload: [0x78, 0x79, 0x7a] },
  ]);
  t.is(decoder.bufferedBytes, 0);
});

test('frames - a header split across chunks completes the frame once its last byte arrives', (t) => {
  const decoder = new FrameDecoder(1024);
  const bytes = wire(9, Buffer.from('hello'));
  for (let i = 0; i < bytes.length - 1; i++) {
    t.deepEqual(decoder.push(bytes.subarray(i, i + 1)), []);
    t.is(decoder.bufferedBytes, i + 1);
  }
  const frames = decoder.push(bytes.subarray(bytes.length - 1));
  t.deepEqual(plain(frames), [{ kind: 9, payload: [...Buffer.from('hello')] }]);
  t.is(decoder.bufferedBytes, 0);
});

test('frames - an empty chunk changes nothing', (t) => {
  const decoder = new FrameDecoder(16);
  decoder.push(Buffer.from([0, 0]));
  t.deepEqual(decoder.push(Buffer.alloc(0)), []);
  t.is(decoder.bufferedBytes, 2);
});

test('frames - randomized: a stream of random frames split at random points, 1-byte chunks included, reproduces the frames (invariant 1)', (t) => {
  for (let seed = 1; seed <= 60; seed++) {
    const rng = seededRng(seed);
    const sent: { kind: number; payload: Buffer }[] = [];
    for (let i = rng.int(1, 30); i > 0; i--) sent.push(randomFrame(rng));
    const stream = Buffer.concat(sent.map((f) => wire(f.kind, f.payload)));
    const decoder = new FrameDecoder(100_000);
    const received: Frame[] = [];
    const style = seed % 3; // 0: 1-byte chunks, 1: small chunks, 2: large chunks
    for (let at = 0; at < stream.length; ) {
      const size = style === 0 ? 1 : style === 1 ? rng.int(1, 12) : rng.int(1, 20_000);
      received.push(...decoder.push(stream.subarray(at, at + size)));
      at += size;
    }
    t.is(received.length, sent.length, `seed ${seed}`);
    for (let i = 0; i < sent.length; i++) {
      if (received[i]?.kind !== sent[i]!.kind || !received[i]!.payload.equals(sent[i]!.payload)) t.fail(`seed ${seed}: frame ${i} differs`);
    }
    t.is(decoder.bufferedBytes, 0, `seed ${seed}`);
  }
});

test('frames - a payload with non-ASCII bytes comes through intact', (t) => {
  const text = 'héllo wörld 😀 日本 ';
  const payload = Buffer.concat([Buffer.from(text, 'utf8'), Buffer.from([0x00, 0xff, 0xfe, 0x80, 0xc3])]);
  const decoder = new FrameDecoder(1024);
  const bytes = wire(4, payload);
  const frames = [...decoder.push(bytes.subarray(0, 7)), ...decoder.push(bytes.subarray(7, 20)), ...decoder.push(bytes.subarray(20))];
  t.is(frames.length, 1);
  t.true(frames[0]!.payload.equals(payload));
  t.is(frames[0]!.payload.toString('utf8', 0, Buffer.byteLength(text)), text);
});

test('frames - a 64 MiB frame pushed in 64 KiB chunks completes (linear work, invariant 2)', (t) => {
  const size = 64 * 1024 * 1024;
  const payload = Buffer.alloc(size);
  for (let i = 0; i < size; i += 65_521) payload[i] = (i >>> 16) & 0xff;
  const decoder = new FrameDecoder(size + 1);
  const [header] = encodeFrame(5, payload);
  t.deepEqual(decoder.push(header!), []);
  const chunk = 64 * 1024;
  const frames: Frame[] = [];
  for (let at = 0; at < size; at += chunk) frames.push(...decoder.push(payload.subarray(at, at + chunk)));
  t.is(frames.length, 1);
  t.is(frames[0]!.kind, 5);
  t.true(frames[0]!.payload.equals(payload));
  t.is(decoder.bufferedBytes, 0);
});

test('frames - a 1 MiB frame pushed one byte at a time completes (linear in the number of chunks, invariant 2)', (t) => {
  const payload = Buffer.alloc(1024 * 1024, 0xab);
  const bytes = wire(6, payload);
  const decoder = new FrameDecoder(bytes.length);
  let frames: Frame[] = [];
  for (let i = 0; i < bytes.length; i++) frames = decoder.push(bytes.subarray(i, i + 1));
  t.is(frames.length, 1);
  t.true(frames[0]!.payload.equals(payload));
});

test('frames - a frame inside one chunk is returned without copying; one spanning chunks is copied', (t) => {
  const decoder = new FrameDecoder(1024);
  const bytes = wire(1, Buffer.from('abcdef'));
  const [inside] = decoder.push(bytes);
  t.is(inside!.payload.buffer, bytes.buffer);
  decoder.push(bytes.subarray(0, 8));
  const [spanning] = decoder.push(bytes.subarray(8));
  t.is(spanning!.payload.toString(), 'abcdef');
});

// ---- caps and corruption (invariants 3 and 4) ----

test('frames - a header announcing more than the cap is rejected before the body arrives (invariant 3)', (t) => {
  const decoder = new FrameDecoder(100);
  const [header] = encodeFrame(1, Buffer.alloc(100)); // L = 101
  const error = t.throws(() => decoder.push(header!.subarray(0, 4)), { instanceOf: TroupeError, code: 'TROUPE_FRAME_TOO_LARGE' });
  t.deepEqual(error.details, { bytes: 101, max: 100 });
});

test('frames - a frame of exactly the cap is accepted', (t) => {
  const decoder = new FrameDecoder(101);
  t.is(decoder.push(wire(1, Buffer.alloc(100))).length, 1);
});

test('frames - an HTTP request on the port fails at once as an oversized frame', (t) => {
  const decoder = new FrameDecoder(256);
  t.throws(() => decoder.push(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')), { instanceOf: TroupeError, code: 'TROUPE_FRAME_TOO_LARGE' });
});

test('frames - a header announcing length 0 is corrupt', (t) => {
  const decoder = new FrameDecoder(100);
  t.throws(() => decoder.push(Buffer.from([0, 0, 0, 0, 1])), { instanceOf: TroupeError, code: 'TROUPE_CODEC_CORRUPT' });
});

test('frames - after a throw the decoder is dead (invariant 4)', (t) => {
  const decoder = new FrameDecoder(10);
  t.throws(() => decoder.push(Buffer.from([0, 0, 1, 0])), { code: 'TROUPE_FRAME_TOO_LARGE' });
  t.throws(() => decoder.push(wire(1, Buffer.from('ok'))), { instanceOf: TroupeError, code: 'TROUPE_FRAME_TOO_LARGE' });
});

test('frames - an oversized header behind a complete frame in the same chunk still throws', (t) => {
  const decoder = new FrameDecoder(10);
  const stream = Buffer.concat([wire(1, Buffer.from('ok')), Buffer.from([0, 0, 1, 0])]);
  t.throws(() => decoder.push(stream), { code: 'TROUPE_FRAME_TOO_LARGE' });
});

test('frames - raising the cap after authentication admits larger frames', (t) => {
  const decoder = new FrameDecoder(8);
  t.is(decoder.push(wire(1, Buffer.alloc(7))).length, 1);
  decoder.setMaxFrameBytes(1000);
  t.is(decoder.push(wire(2, Buffer.alloc(999))).length, 1);
});

test('frames - a cap outside 1..2^32-1 is an invalid argument', (t) => {
  t.throws(() => new FrameDecoder(0), { instanceOf: TroupeError, code: 'TROUPE_INVALID_ARGUMENT' });
  t.throws(() => new FrameDecoder(2 ** 32), { instanceOf: TroupeError, code: 'TROUPE_INVALID_ARGUMENT' });
  t.throws(() => new FrameDecoder(8).setMaxFrameBytes(-1), { instanceOf: TroupeError, code: 'TROUPE_INVALID_ARGUMENT' });
});
