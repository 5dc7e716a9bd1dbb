/**
 * Remote (byte-sized) subpartitions of ResultPartition (actors/network/result-partition.ts).
 * Invariants cited from the module header:
 *  1. data leaves only against credit; events need none but keep their place
 *  2. seq numbers per subpartition 0, 1, 2, … for data and events
 *  3. every data buffer carries the backlog queued behind it
 *  4. available while buffers in use < pool size; one record may overdraw
 *  5. nothing can be emitted after finish(); drained once every end-of-partition is sent
 *  6. a remote subpartition encodes each record as emitted and is full at bufferBytes; a local one
 *     keeps the objects and is full at bufferRecords; a refused record throws a coded error and
 *     leaves the buffer as it was
 */
import test from 'ava';
import { Buffer } from 'node:buffer';
import { decodeRecords } from '../../actors/network/record-codec.js';
import { ResultPartition, type NetworkEvent, type QueueItem } from '../../actors/network/result-partition.js';
import { TroupeError } from '../../core/errors.js';
import { seededRng } from '../helpers/prng.js';

interface Sent {
  readonly sub: number;
  readonly seq: number;
  readonly bytes?: Uint8Array;
  readonly records?: unknown[];
  readonly event?: NetworkEvent;
  readonly backlog: number;
}

function pollAll(p: ResultPartition): Sent[] {
  const out: Sent[] = [];
  p.poll((sub: number, seq: number, item: QueueItem, backlog: number) => {
    if (item.event !== undefined) out.push({ sub, seq, event: item.event, backlog });
    else if (item.records instanceof Uint8Array) out.push({ sub, seq, bytes: item.records, backlog });
    else out.push({ sub, seq, records: item.records, backlog });
  });
  return out;
}

/** Records of the sent data buffers, decoded where encoded. */
const recordsOf = (sent: readonly Sent[], sub = 0): unknown[][] =>
  sent.filter((s) => s.sub === sub && s.event === undefined).map((s) => (s.bytes !== undefined ? decodeRecords(s.bytes) : s.records!));

const BUFFER_BYTES = 64;
const MAX_RECORD_BYTES = 256;

function partition(
  opts: { remote?: boolean[]; bufferRecords?: number; pool?: number; flushEveryRecord?: boolean; bufferBytes?: number; maxRecordBytes?: number } = {},
): ResultPartition {
  const remote = opts.remote ?? [true];
  return new ResultPartition('e0', remote.length, opts.bufferRecords ?? 4, opts.pool ?? 100, opts.flushEveryRecord ?? false, 0, {
    remote,
    bufferBytes: opts.bufferBytes ?? BUFFER_BYTES,
    maxRecordBytes: opts.maxRecordBytes ?? MAX_RECORD_BYTES,
  });
}

/** A string record that encodes to exactly n bytes (n ≤ 64: fixstr tag + n − 1 ASCII bytes). */
const sized = (n: number, c = 'x'): string => c.repeat(n - 1);

// ---- encoding and sizing (invariant 6) ----

test('remote partition - a remote subpartition sends Uint8Array buffers that decode to exactly the emitted records in order (invariant 6)', (t) => {
  const p = partition();
  p.addCredit(0, 1000);
  const emitted: unknown[] = [];
  for (let i = 0; i < 200; i++) {
    const r = i % 3 === 0 ? { id: i, name: `n${i}`, tag: 'ü✓' } : i % 3 === 1 ? `s${i}` : BigInt(i) * 10n ** 20n;
    emitted.push(r);
    p.emit(0, r);
  }
  p.flush();
  const sent = pollAll(p);
  t.true(sent.length > 1);
  t.true(sent.every((s) => s.bytes instanceof Uint8Array));
  t.deepEqual(recordsOf(sent).flat(), emitted);
});

test('remote partition - a remote buffer is finished once it reaches bufferBytes, and not before (invariant 6)', (t) => {
  const p = partition();
  p.addCredit(0, 100);
  // 2 header bytes (magic + count) + 6 × 10-byte records = 62 < 64
  for (let i = 0; i < 6; i++) p.emit(0, sized(10));
  t.false(p.hasSendable);
  p.emit(0, sized(10)); // 72 ≥ 64
  t.true(p.hasSendable);
  const sent = pollAll(p);
  t.is(sent.length, 1);
  t.is(sent[0]!.bytes!.length, 72);
  t.is(decodeRecords(sent[0]!.bytes!).length, 7);
});

test('remote partition - remote buffers are about bufferBytes: at least bufferBytes and less than bufferBytes plus one record (invariant 6)', (t) => {
  const rng = seededRng(7);
  const bufferBytes = 512;
  const p = partition({ bufferBytes, maxRecordBytes: 1024 });
  p.addCredit(0, 10_000);
  const emitted: unknown[] = [];
  for (let i = 0; i < 2000; i++) {
    const r = { i, text: 'y'.repeat(rng.int(0, 60)) };
    emitted.push(r);
    p.emit(0, r);
  }
  const sent = pollAll(p); // only full buffers, no flush
  t.true(sent.length > 10);
  for (const s of sent) {
    t.true(s.bytes!.length >= bufferBytes, `buffer of ${s.bytes!.length} bytes`);
    t.true(s.bytes!.length < bufferBytes + 100, `buffer of ${s.bytes!.length} bytes`);
  }
  p.flush();
  t.deepEqual([...recordsOf(sent), ...recordsOf(pollAll(p))].flat(), emitted);
});

test('remote partition - a local subpartition of the same partition still sends arrays of bufferRecords (invariant 6)', (t) => {
  const p = partition({ remote: [true, false], bufferRecords: 3 });
  p.addCredit(0, 100);
  p.addCredit(1, 100);
  for (let i = 0; i < 7; i++) p.broadcast({ i });
  p.flush();
  const sent = pollAll(p);
  const local = sent.filter((s) => s.sub === 1);
  t.true(local.every((s) => Array.isArray(s.records) && s.bytes === undefined));
  t.deepEqual(
    local.map((s) => s.records),
    [[{ i: 0 }, { i: 1 }, { i: 2 }], [{ i: 3 }, { i: 4 }, { i: 5 }], [{ i: 6 }]],
  );
  t.true(sent.filter((s) => s.sub === 0).every((s) => s.bytes instanceof Uint8Array));
  t.deepEqual(recordsOf(sent, 0).flat(), recordsOf(sent, 1).flat());
});

test('remote partition - a local subpartition hands over the record objects themselves (invariant 6)', (t) => {
  const p = partition({ remote: [true, false], bufferRecords: 1 });
  const record = { shared: true };
  p.broadcast(record);
  p.flush();
  p.addCredit(0, 1);
  p.addCredit(1, 1);
  const sent = pollAll(p);
  t.is(sent.find((s) => s.sub === 1)!.records![0], record);
  t.not(recordsOf(sent, 0)[0]![0], record);
});

test('remote partition - the bufferRecords count does not finish a remote buffer (invariant 6)', (t) => {
  const p = partition({ bufferRecords: 2 });
  for (let i = 0; i < 5; i++) p.emit(0, i);
  t.false(p.hasSendable);
});

test('remote partition - flush finishes a partial encoded buffer (invariant 6)', (t) => {
  const p = partition();
  p.addCredit(0, 5);
  p.emit(0, 'a');
  p.emit(0, 'b');
  t.false(p.hasSendable);
  t.deepEqual(pollAll(p), []);
  p.flush();
  t.true(p.hasSendable);
  const sent = pollAll(p);
  t.is(sent.length, 1);
  t.deepEqual(recordsOf(sent), [['a', 'b']]);
});

test('remote partition - flushing an empty remote subpartition queues nothing', (t) => {
  const p = partition({ remote: [true, true] });
  p.flush();
  t.false(p.hasSendable);
  t.is(p.buffersInUse, 0);
  p.emit(1, 'x');
  p.flush();
  p.flush();
  p.addCredit(1, 5);
  t.deepEqual(recordsOf(pollAll(p), 1), [['x']]);
});

test('remote partition - flushEveryRecord sends each record as soon as it is polled, and coalesces what waits (invariants 6, 7)', (t) => {
  const p = partition({ flushEveryRecord: true });
  p.addCredit(0, 10);
  p.emit(0, 'a');
  t.true(p.hasSendable);
  t.deepEqual(recordsOf(pollAll(p)), [['a']]);
  p.emit(0, { b: 2n });
  p.emit(0, 'c');
  t.deepEqual(recordsOf(pollAll(p)), [[{ b: 2n }, 'c']]);
});

test('remote partition - a record larger than bufferBytes but within the maximum is a buffer of its own (invariant 6)', (t) => {
  const p = partition();
  p.addCredit(0, 10);
  const big = 'z'.repeat(200);
  p.emit(0, big);
  t.true(p.hasSendable);
  p.emit(0, 'after');
  p.flush();
  const sent = pollAll(p);
  t.deepEqual(recordsOf(sent), [[big], ['after']]);
  t.true(sent[0]!.bytes!.length > BUFFER_BYTES);
});

test('remote partition - a large record joining a partial buffer finishes that buffer; the next record starts a new one (invariant 6)', (t) => {
  const p = partition();
  p.addCredit(0, 10);
  const big = 'z'.repeat(200);
  p.emit(0, 'small');
  p.emit(0, big);
  t.true(p.hasSendable);
  p.emit(0, 'next');
  p.flush();
  t.deepEqual(recordsOf(pollAll(p)), [['small', big], ['next']]);
});

// ---- refused records (invariant 6) ----

test('remote partition - a record over maxRecordBytes throws TROUPE_RECORD_TOO_LARGE (invariant 6)', (t) => {
  const p = partition();
  const error = t.throws(() => p.emit(0, 'q'.repeat(MAX_RECORD_BYTES)), { instanceOf: TroupeError, code: 'TROUPE_RECORD_TOO_LARGE' });
  t.regex(error.message, /maximum record size is 256 bytes/);
});

test('remote partition - a record exactly at maxRecordBytes is accepted (invariant 6)', (t) => {
  const p = partition();
  // T_STRING tag + 2-byte varint length + 253 bytes = 256
  const record = 'q'.repeat(253);
  t.notThrows(() => p.emit(0, record));
  p.addCredit(0, 1);
  t.deepEqual(recordsOf(pollAll(p)), [[record]]);
});

test('remote partition - a too-large record leaves earlier records intact and the partition usable (invariant 6)', (t) => {
  const p = partition();
  p.emit(0, 'a');
  p.emit(0, 'b');
  t.is(p.buffersInUse, 1);
  t.throws(() => p.emit(0, { payload: 'q'.repeat(1000) }), { code: 'TROUPE_RECORD_TOO_LARGE' });
  t.is(p.buffersInUse, 1);
  t.false(p.hasSendable);
  p.emit(0, 'c');
  p.flush();
  p.addCredit(0, 5);
  t.deepEqual(recordsOf(pollAll(p)), [['a', 'b', 'c']]);
});

test('remote partition - a function-valued record throws TROUPE_RECORD_NOT_SERIALIZABLE (invariant 6)', (t) => {
  const p = partition();
  t.throws(() => p.emit(0, () => 1), { instanceOf: TroupeError, code: 'TROUPE_RECORD_NOT_SERIALIZABLE' });
  const error = t.throws(() => p.emit(0, { id: 1, callback: () => 2 }), { instanceOf: TroupeError, code: 'TROUPE_RECORD_NOT_SERIALIZABLE' });
  t.regex(error.message, /record\.callback/);
});

test('remote partition - an unserializable record leaves earlier records intact and the partition usable (invariant 6)', (t) => {
  const p = partition();
  p.emit(0, { id: 1, shape: 'first' });
  t.throws(() => p.emit(0, { id: 2, fn: () => 0 }), { code: 'TROUPE_RECORD_NOT_SERIALIZABLE' });
  p.emit(0, { id: 3, shape: 'first' });
  p.emit(0, { id: 4, fn: 'now a string' });
  p.flush();
  p.addCredit(0, 5);
  t.deepEqual(recordsOf(pollAll(p)), [
    [
      { id: 1, shape: 'first' },
      { id: 3, shape: 'first' },
      { id: 4, fn: 'now a string' },
    ],
  ]);
});

test('remote partition - a refused first record of a buffer takes no pool space (invariants 4 and 6)', (t) => {
  const p = partition({ pool: 1 });
  t.throws(() => p.emit(0, Symbol('s')), { code: 'TROUPE_RECORD_NOT_SERIALIZABLE' });
  t.throws(() => p.emit(0, 'q'.repeat(5000)), { code: 'TROUPE_RECORD_TOO_LARGE' });
  t.is(p.buffersInUse, 0);
  t.true(p.available);
  t.false(p.hasSendable);
  p.flush();
  t.false(p.hasSendable);
});

test('remote partition - a broadcast refused by a remote subpartition stays in the local subpartition it reached first (not atomic across subpartitions)', (t) => {
  // broadcast emits subpartition by subpartition; the coded error fails the task anyway
  const p = partition({ remote: [false, true] });
  t.throws(() => p.broadcast(() => 1), { code: 'TROUPE_RECORD_NOT_SERIALIZABLE' });
  t.is(p.buffersInUse, 1);
  p.flush();
  p.addCredit(0, 1);
  p.addCredit(1, 1);
  t.deepEqual(
    pollAll(p).map((s) => [s.sub, s.records?.length]),
    [[0, 1]],
  );
});

// ---- credit, backlog, pool (invariants 1, 3, 4) ----

test('remote partition - a full encoded buffer without credit is not sent; one credit sends one buffer (invariant 1)', (t) => {
  const p = partition();
  for (let i = 0; i < 3; i++) p.emit(0, sized(BUFFER_BYTES)); // each fills a buffer
  t.true(p.hasSendable);
  t.deepEqual(pollAll(p), []);
  p.addCredit(0, 1);
  const sent = pollAll(p);
  t.is(sent.length, 1);
  t.is(sent[0]!.seq, 0);
  t.deepEqual(pollAll(p), []);
});

test('remote partition - records flushed without credit share one encoded buffer (invariant 7)', (t) => {
  const p = partition({ flushEveryRecord: true });
  for (const r of ['a', 'b', 'c']) p.emit(0, r);
  t.deepEqual(pollAll(p), []);
  p.addCredit(0, 1);
  t.deepEqual(recordsOf(pollAll(p)), [['a', 'b', 'c']]);
});

test('remote partition - each encoded buffer carries the finished buffers queued behind it as backlog (invariant 3)', (t) => {
  const p = partition();
  for (let i = 0; i < 4; i++) p.emit(0, sized(BUFFER_BYTES));
  p.addCredit(0, 4);
  t.deepEqual(
    pollAll(p).map((s) => [s.seq, s.backlog]),
    [
      [0, 3],
      [1, 2],
      [2, 1],
      [3, 0],
    ],
  );
});

test('remote partition - a partial encoded buffer does not count as backlog (invariant 3)', (t) => {
  const p = partition();
  for (let i = 0; i < 7; i++) p.emit(0, sized(10)); // one full buffer
  p.emit(0, 'partial');
  p.addCredit(0, 1);
  const sent = pollAll(p);
  t.is(sent.length, 1);
  t.is(sent[0]!.backlog, 0);
});

test('remote partition - partial and queued encoded buffers count against the pool; sending frees them (invariant 4)', (t) => {
  const p = partition({ remote: [true, true], pool: 3, flushEveryRecord: false });
  p.emit(0, 'a');
  t.is(p.buffersInUse, 1);
  p.emit(0, 'b'); // same partial buffer
  t.is(p.buffersInUse, 1);
  p.emit(1, 'c');
  t.is(p.buffersInUse, 2);
  t.true(p.available);
  p.flush(); // flushing does not free pool space
  t.is(p.buffersInUse, 2);
  p.emit(0, 'd');
  t.is(p.buffersInUse, 3);
  t.false(p.available);
  p.addCredit(0, 1);
  pollAll(p);
  t.is(p.buffersInUse, 2);
  t.true(p.available);
});

test('remote partition - remote and local subpartitions share one pool (invariant 4)', (t) => {
  const p = partition({ remote: [true, false, true], pool: 2 });
  t.true(p.available);
  p.broadcast('x'); // one record may overdraw
  t.is(p.buffersInUse, 3);
  t.false(p.available);
  for (let s = 0; s < 3; s++) p.addCredit(s, 1);
  p.flush();
  t.is(pollAll(p).length, 3);
  t.is(p.buffersInUse, 0);
  t.true(p.available);
});

test('remote partition - randomized: remote and local subpartitions deliver the same records with seq 0, 1, 2, … (invariants 1, 2 and 6)', (t) => {
  for (let seed = 1; seed <= 40; seed++) {
    const rng = seededRng(seed);
    const p = partition({ remote: [true, false], bufferRecords: rng.int(1, 8), bufferBytes: rng.int(16, 200), flushEveryRecord: rng.chance(0.2) });
    const emitted: unknown[] = [];
    const got: Sent[] = [];
    for (let step = 0; step < 300; step++) {
      const a = rng.int(0, 9);
      if (a < 6) {
        const r = rng.chance(0.5) ? { k: rng.int(0, 1000), v: 'é'.repeat(rng.int(0, 20)) } : rng.int(-1e6, 1e6);
        emitted.push(r);
        p.broadcast(r);
      } else if (a < 8) {
        p.addCredit(rng.int(0, 1), rng.int(1, 3));
      } else if (a === 8) {
        p.flush();
      } else if (rng.chance(0.3)) {
        p.broadcastEvent({ kind: 'watermark', timestamp: step });
      }
      got.push(...pollAll(p));
    }
    p.finish();
    p.addCredit(0, 1000);
    p.addCredit(1, 1000);
    got.push(...pollAll(p));
    const where = `seed ${seed}`;
    t.true(p.drained, where);
    t.deepEqual(recordsOf(got, 0).flat(), emitted, where);
    t.deepEqual(recordsOf(got, 1).flat(), emitted, where);
    for (const sub of [0, 1]) {
      const seqs = got.filter((s) => s.sub === sub).map((s) => s.seq);
      t.deepEqual(
        seqs,
        seqs.map((_, i) => i),
        where,
      );
    }
    t.is(p.buffersInUse, 0, where);
  }
});

// ---- events ----

test('remote partition - broadcastEvent queues the watermark on every subpartition without credit (invariant 1)', (t) => {
  const p = partition({ remote: [true, false, true] });
  p.broadcastEvent({ kind: 'watermark', timestamp: 1000 });
  t.true(p.hasSendable);
  t.deepEqual(
    pollAll(p),
    [0, 1, 2].map((sub) => ({ sub, seq: 0, event: { kind: 'watermark', timestamp: 1000 }, backlog: 0 })),
  );
  t.is(p.buffersInUse, 0);
});

test('remote partition - a watermark is queued after the records emitted before it: partial buffers are flushed first (invariant 1)', (t) => {
  const p = partition({ remote: [true, false] });
  p.emit(0, 'r0');
  p.emit(1, 'l0');
  p.broadcastEvent({ kind: 'watermark', timestamp: 5 });
  p.emit(0, 'r1');
  // no credit yet: the events wait behind the flushed buffers
  t.deepEqual(pollAll(p), []);
  p.addCredit(0, 1);
  p.addCredit(1, 1);
  const sent = pollAll(p);
  t.deepEqual(
    sent.map((s) => [s.sub, s.seq, s.event?.kind ?? 'data']),
    [
      [0, 0, 'data'],
      [0, 1, 'watermark'],
      [1, 0, 'data'],
      [1, 1, 'watermark'],
    ],
  );
  t.deepEqual(recordsOf(sent, 0), [['r0']]);
  t.deepEqual(recordsOf(sent, 1), [['l0']]);
  p.flush();
  p.addCredit(0, 1);
  t.deepEqual(recordsOf(pollAll(p), 0), [['r1']]);
});

test('remote partition - a watermark behind data waits for credit only on that subpartition (invariant 1)', (t) => {
  const p = partition({ remote: [true, true] });
  p.emit(0, 'a');
  p.broadcastEvent({ kind: 'watermark', timestamp: 9 });
  t.deepEqual(
    pollAll(p).map((s) => [s.sub, s.seq, s.event?.kind]),
    [[1, 0, 'watermark']],
  );
});

test('remote partition - events take sequence numbers between the data buffers (invariant 2)', (t) => {
  const p = partition({ flushEveryRecord: true });
  p.addCredit(0, 10);
  p.emit(0, 'a');
  p.broadcastEvent({ kind: 'watermark', timestamp: 1 });
  p.emit(0, 'b');
  p.broadcastEvent({ kind: 'watermark', timestamp: 2 });
  p.finish();
  t.deepEqual(
    pollAll(p).map((s) => [s.seq, s.event?.kind ?? 'data']),
    [
      [0, 'data'],
      [1, 'watermark'],
      [2, 'data'],
      [3, 'watermark'],
      [4, 'end-of-partition'],
    ],
  );
});

test('remote partition - events need no credit and do not spend any (invariant 1)', (t) => {
  const p = partition({ flushEveryRecord: true });
  p.addCredit(0, 1);
  p.broadcastEvent({ kind: 'watermark', timestamp: 1 });
  p.broadcastEvent({ kind: 'watermark', timestamp: 2 });
  t.is(pollAll(p).length, 2);
  p.emit(0, 'a');
  t.deepEqual(recordsOf(pollAll(p)), [['a']]);
});

test('remote partition - broadcastEvent after finish is a protocol violation (invariant 5)', (t) => {
  const p = partition({ remote: [true, false] });
  p.finish();
  const error = t.throws(() => p.broadcastEvent({ kind: 'watermark', timestamp: 1 }), { instanceOf: TroupeError, code: 'TROUPE_PROTOCOL_VIOLATION' });
  t.regex(error.message, /watermark after the end of partition e0/);
  t.deepEqual(
    pollAll(p).map((s) => s.event?.kind),
    ['end-of-partition', 'end-of-partition'],
  );
});

test('remote partition - emit into a finished remote subpartition is a protocol violation (invariant 5)', (t) => {
  const p = partition();
  p.emit(0, 'a');
  p.finish();
  t.throws(() => p.emit(0, 'late'), { instanceOf: TroupeError, code: 'TROUPE_PROTOCOL_VIOLATION' });
  p.addCredit(0, 5);
  t.deepEqual(
    pollAll(p).map((s) => s.event?.kind ?? recordsOf([s])[0]),
    [['a'], 'end-of-partition'],
  );
});

test('remote partition - a sent watermark does not make a subpartition drained; only end-of-partition does (invariant 5)', (t) => {
  const p = partition({ remote: [true, true] });
  p.broadcastEvent({ kind: 'watermark', timestamp: 1 });
  p.emit(1, 'blocked'); // subpartition 1: watermark, data (no credit), end-of-partition
  p.finish();
  const sent = pollAll(p);
  t.deepEqual(
    sent.map((s) => [s.sub, s.event?.kind ?? 'data']),
    [
      [0, 'watermark'],
      [0, 'end-of-partition'],
      [1, 'watermark'],
    ],
  );
  t.false(p.drained);
  p.addCredit(1, 1);
  pollAll(p);
  t.true(p.drained);
});

test('remote partition - watermarks alone never make an unfinished partition drained (invariant 5)', (t) => {
  const p = partition({ remote: [true, false] });
  p.broadcastEvent({ kind: 'watermark', timestamp: 1 });
  pollAll(p);
  t.false(p.drained);
});

test('remote partition - finish flushes the partial encoded buffer before end-of-partition (invariant 5)', (t) => {
  const p = partition();
  p.emit(0, Buffer.from([1, 2, 3]));
  p.finish();
  p.addCredit(0, 1);
  const sent = pollAll(p);
  t.is(sent.length, 2);
  t.deepEqual(decodeRecords(sent[0]!.bytes!), [Buffer.from([1, 2, 3])]);
  t.deepEqual(sent[1], { sub: 0, seq: 1, event: { kind: 'end-of-partition' }, backlog: 0 });
  t.true(p.drained);
});
