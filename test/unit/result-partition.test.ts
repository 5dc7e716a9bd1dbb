/**
 * ResultPartition (actors/network/result-partition.ts). Invariants cited from the module header:
 *  1. data leaves only against credit; events need none but keep their place
 *  2. seq numbers per subpartition 0, 1, 2, … for data and events
 *  3. every data buffer carries the backlog queued behind it
 *  4. available while buffers in use < pool size (backpressure); one record may overdraw
 *  5. nothing can be emitted after finish(); drained once every end-of-partition is sent
 */
import test from 'ava';
import { ResultPartition, type QueueItem } from '../../actors/network/result-partition.js';
import { TroupeError } from '../../core/errors.js';

interface Sent {
  readonly sub: number;
  readonly seq: number;
  readonly records?: unknown[];
  readonly event?: string;
  readonly backlog: number;
}

function pollAll(p: ResultPartition): Sent[] {
  const out: Sent[] = [];
  p.poll((sub: number, seq: number, item: QueueItem, backlog: number) => {
    if (item.event !== undefined) out.push({ sub, seq, event: item.event.kind, backlog });
    else out.push({ sub, seq, records: item.records as unknown[], backlog });
  });
  return out;
}

function partition(opts: { subs?: number; bufferRecords?: number; pool?: number; flushEveryRecord?: boolean; producer?: number } = {}): ResultPartition {
  return new ResultPartition('e0', opts.subs ?? 1, opts.bufferRecords ?? 2, opts.pool ?? 100, opts.flushEveryRecord ?? false, opts.producer ?? 0);
}

// ---- construction ----

test('result partition - a new partition is empty, available and not drained', (t) => {
  const p = partition({ subs: 3 });
  t.is(p.numSubpartitions, 3);
  t.is(p.edgeId, 'e0');
  t.true(p.available);
  t.is(p.buffersInUse, 0);
  t.false(p.hasSendable);
  t.false(p.drained);
  t.deepEqual(pollAll(p), []);
});

// ---- credit (invariant 1) ----

test('result partition - a full buffer without credit is not sent (invariant 1)', (t) => {
  const p = partition({ bufferRecords: 2 });
  p.emit(0, 'a');
  p.emit(0, 'b');
  t.true(p.hasSendable);
  t.deepEqual(pollAll(p), []);
  t.true(p.hasSendable);
});

test('result partition - one credit sends exactly one data buffer (invariant 1)', (t) => {
  const p = partition({ bufferRecords: 1 });
  p.emit(0, 'a');
  p.emit(0, 'b');
  p.emit(0, 'c');
  p.addCredit(0, 1);
  t.deepEqual(pollAll(p), [{ sub: 0, seq: 0, records: ['a'], backlog: 2 }]);
  t.deepEqual(pollAll(p), []);
  p.addCredit(0, 2);
  t.deepEqual(
    pollAll(p).map((s) => s.records),
    [['b'], ['c']],
  );
  t.false(p.hasSendable);
});

test('result partition - credit accumulates before data exists and is spent later (invariant 1)', (t) => {
  const p = partition({ bufferRecords: 1 });
  p.addCredit(0, 2);
  t.deepEqual(pollAll(p), []);
  p.emit(0, 'a');
  p.emit(0, 'b');
  p.emit(0, 'c');
  t.deepEqual(
    pollAll(p).map((s) => s.records),
    [['a'], ['b']],
  );
});

test('result partition - credit of one subpartition does not release data of another (invariant 1)', (t) => {
  const p = partition({ subs: 2, bufferRecords: 1 });
  p.emit(0, 'a');
  p.emit(1, 'b');
  p.addCredit(1, 5);
  t.deepEqual(pollAll(p), [{ sub: 1, seq: 0, records: ['b'], backlog: 0 }]);
});

test('result partition - end-of-partition is sent without credit (invariant 1)', (t) => {
  const p = partition({ subs: 2 });
  p.finish();
  t.true(p.hasSendable);
  t.deepEqual(pollAll(p), [
    { sub: 0, seq: 0, event: 'end-of-partition', backlog: 0 },
    { sub: 1, seq: 0, event: 'end-of-partition', backlog: 0 },
  ]);
});

test('result partition - end-of-partition waits behind data that has no credit (invariant 1)', (t) => {
  const p = partition({ bufferRecords: 1 });
  p.emit(0, 'a');
  p.finish();
  t.deepEqual(pollAll(p), []);
  t.false(p.drained);
  p.addCredit(0, 1);
  t.deepEqual(pollAll(p), [
    { sub: 0, seq: 0, records: ['a'], backlog: 0 },
    { sub: 0, seq: 1, event: 'end-of-partition', backlog: 0 },
  ]);
  t.true(p.drained);
});

test('result partition - zero credit is a protocol violation', (t) => {
  const p = partition({ subs: 2 });
  t.throws(() => p.addCredit(0, 0), { instanceOf: TroupeError, code: 'TROUPE_PROTOCOL_VIOLATION' });
});

test('result partition - negative credit is a protocol violation', (t) => {
  const p = partition({ subs: 2 });
  t.throws(() => p.addCredit(0, -1), { instanceOf: TroupeError, code: 'TROUPE_PROTOCOL_VIOLATION' });
});

test('result partition - NaN credit is a protocol violation', (t) => {
  const p = partition({ subs: 2 });
  t.throws(() => p.addCredit(1, Number.NaN), { instanceOf: TroupeError, code: 'TROUPE_PROTOCOL_VIOLATION' });
});

test('result partition - credit for a subpartition that does not exist is a protocol violation', (t) => {
  const p = partition({ subs: 2 });
  const error = t.throws(() => p.addCredit(2, 1), { instanceOf: TroupeError, code: 'TROUPE_PROTOCOL_VIOLATION' });
  t.regex(error.message, /subpartition 2 of e0/);
  t.throws(() => p.addCredit(-1, 1), { code: 'TROUPE_PROTOCOL_VIOLATION' });
});

test('result partition - a rejected credit does not change what can be sent', (t) => {
  const p = partition({ bufferRecords: 1 });
  p.emit(0, 'a');
  t.throws(() => p.addCredit(0, -3));
  t.deepEqual(pollAll(p), []);
  p.addCredit(0, 1);
  t.is(pollAll(p).length, 1);
});

// ---- sequence numbers (invariant 2) ----

test('result partition - sequence numbers run 0, 1, 2, … per subpartition over data and events (invariant 2)', (t) => {
  const p = partition({ subs: 2, bufferRecords: 1 });
  p.addCredit(0, 10);
  p.addCredit(1, 10);
  for (let i = 0; i < 3; i++) p.emit(0, `a${i}`);
  p.emit(1, 'b0');
  const first = pollAll(p);
  for (let i = 0; i < 2; i++) p.emit(0, `a${i + 3}`);
  p.finish();
  const rest = pollAll(p);
  const seqs = (sub: number): number[] => [...first, ...rest].filter((s) => s.sub === sub).map((s) => s.seq);
  t.deepEqual(seqs(0), [0, 1, 2, 3, 4, 5]);
  t.deepEqual(seqs(1), [0, 1]);
});

test('result partition - records keep their emit order within a subpartition', (t) => {
  const p = partition({ bufferRecords: 3 });
  p.addCredit(0, 100);
  for (let i = 0; i < 10; i++) p.emit(0, i);
  p.flush();
  const records = pollAll(p).flatMap((s) => s.records ?? []);
  t.deepEqual(records, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

// ---- backlog (invariant 3) ----

test('result partition - each data buffer carries the number of finished buffers queued behind it (invariant 3)', (t) => {
  const p = partition({ bufferRecords: 1 });
  for (const r of ['a', 'b', 'c']) p.emit(0, r);
  p.addCredit(0, 3);
  t.deepEqual(
    pollAll(p).map((s) => s.backlog),
    [2, 1, 0],
  );
});

test('result partition - a partially filled buffer does not count as backlog (invariant 3)', (t) => {
  const p = partition({ bufferRecords: 2 });
  p.emit(0, 'a');
  p.emit(0, 'b'); // finished
  p.emit(0, 'c'); // filling
  p.addCredit(0, 1);
  t.deepEqual(pollAll(p), [{ sub: 0, seq: 0, records: ['a', 'b'], backlog: 0 }]);
});

test('result partition - backlog counts only data, not the queued end-of-partition (invariant 3)', (t) => {
  const p = partition({ bufferRecords: 1 });
  p.emit(0, 'a');
  p.finish();
  p.addCredit(0, 1);
  t.is(pollAll(p)[0]!.backlog, 0);
});

// ---- buffers, flush ----

test('result partition - a partial buffer is not sendable until flushed', (t) => {
  const p = partition({ bufferRecords: 3 });
  p.addCredit(0, 1);
  p.emit(0, 'x');
  t.false(p.hasSendable);
  t.deepEqual(pollAll(p), []);
  p.flush();
  t.true(p.hasSendable);
  t.deepEqual(pollAll(p), [{ sub: 0, seq: 0, records: ['x'], backlog: 0 }]);
});

test('result partition - flush finishes the partial buffer of every subpartition', (t) => {
  const p = partition({ subs: 3, bufferRecords: 10 });
  p.emit(0, 'a');
  p.emit(2, 'c');
  p.flush();
  p.addCredit(0, 1);
  p.addCredit(1, 1);
  p.addCredit(2, 1);
  t.deepEqual(pollAll(p), [
    { sub: 0, seq: 0, records: ['a'], backlog: 0 },
    { sub: 2, seq: 0, records: ['c'], backlog: 0 },
  ]);
});

test('result partition - flushing with nothing buffered queues nothing', (t) => {
  const p = partition({ subs: 2 });
  p.flush();
  t.false(p.hasSendable);
  t.is(p.buffersInUse, 0);
});

test('result partition - a buffer is finished exactly when it reaches bufferRecords records', (t) => {
  const p = partition({ bufferRecords: 3 });
  p.addCredit(0, 10);
  p.emit(0, 1);
  p.emit(0, 2);
  t.false(p.hasSendable);
  p.emit(0, 3);
  t.true(p.hasSendable);
  t.deepEqual(pollAll(p)[0]!.records, [1, 2, 3]);
});

test('result partition - flushEveryRecord makes each record sendable at once (invariant 7)', (t) => {
  const p = partition({ bufferRecords: 100, flushEveryRecord: true });
  p.addCredit(0, 10);
  p.emit(0, 'a');
  t.true(p.hasSendable);
  t.deepEqual(pollAll(p).map((s) => s.records), [['a']]);
  p.emit(0, 'b');
  t.deepEqual(pollAll(p).map((s) => s.records), [['b']]);
});

test('result partition - records flushed without credit share one buffer until credit arrives (invariant 7)', (t) => {
  const p = partition({ bufferRecords: 100, flushEveryRecord: true });
  for (const r of ['a', 'b', 'c']) p.emit(0, r);
  t.true(p.hasSendable);
  t.deepEqual(pollAll(p), []);
  t.is(p.buffersInUse, 1);
  p.addCredit(0, 1);
  t.deepEqual(pollAll(p).map((s) => s.records), [['a', 'b', 'c']]);
  t.false(p.hasSendable);
});

test('result partition - a timeout flush cuts the partial buffer only when credit allows (invariant 7)', (t) => {
  const p = partition({ bufferRecords: 100 });
  p.emit(0, 'a');
  p.requestFlushAll();
  t.true(p.hasSendable);
  t.deepEqual(pollAll(p), []);
  p.emit(0, 'b');
  p.addCredit(0, 2);
  t.deepEqual(pollAll(p).map((s) => s.records), [['a', 'b']]);
  p.emit(0, 'c');
  t.false(p.hasSendable);
});

// ---- availability / backpressure (invariant 4) ----

test('result partition - becomes unavailable when buffers in use reach the pool size (invariant 4)', (t) => {
  const p = partition({ bufferRecords: 1, pool: 3 });
  for (let i = 0; i < 2; i++) p.emit(0, i);
  t.is(p.buffersInUse, 2);
  t.true(p.available);
  p.emit(0, 2);
  t.is(p.buffersInUse, 3);
  t.false(p.available);
});

test('result partition - partially filled buffers count against the pool (invariant 4)', (t) => {
  const p = partition({ subs: 2, bufferRecords: 10, pool: 2 });
  p.emit(0, 'a');
  p.emit(1, 'b');
  t.false(p.hasSendable);
  t.is(p.buffersInUse, 2);
  t.false(p.available);
});

test('result partition - a record added to an already filling buffer takes no extra pool space (invariant 4)', (t) => {
  const p = partition({ bufferRecords: 10, pool: 1 });
  p.emit(0, 'a');
  p.emit(0, 'b');
  t.is(p.buffersInUse, 1);
});

test('result partition - sending against credit frees pool space and restores availability (invariant 4)', (t) => {
  const p = partition({ bufferRecords: 1, pool: 2 });
  p.emit(0, 'a');
  p.emit(0, 'b');
  t.false(p.available);
  p.addCredit(0, 1);
  pollAll(p);
  t.is(p.buffersInUse, 1);
  t.true(p.available);
});

test('result partition - flushing does not free pool space: queued buffers still count (invariant 4)', (t) => {
  const p = partition({ bufferRecords: 10, pool: 1 });
  p.emit(0, 'a');
  p.flush();
  t.is(p.buffersInUse, 1);
  t.false(p.available);
});

test('result partition - one record may overdraw the pool (broadcast while at the limit) (invariant 4)', (t) => {
  const p = partition({ subs: 3, bufferRecords: 10, pool: 2 });
  t.true(p.available);
  p.broadcast('x');
  t.is(p.buffersInUse, 3);
  t.false(p.available);
});

test('result partition - a zero pool size is never available', (t) => {
  const p = partition({ pool: 0 });
  t.false(p.available);
});

// ---- finish and drained (invariant 5) ----

test('result partition - finish flushes partial buffers before end-of-partition (invariant 5)', (t) => {
  const p = partition({ bufferRecords: 10 });
  p.emit(0, 'a');
  p.addCredit(0, 1);
  p.finish();
  t.deepEqual(pollAll(p), [
    { sub: 0, seq: 0, records: ['a'], backlog: 0 },
    { sub: 0, seq: 1, event: 'end-of-partition', backlog: 0 },
  ]);
});

test('result partition - not drained until every subpartition has sent its end-of-partition (invariant 5)', (t) => {
  const p = partition({ subs: 2, bufferRecords: 1 });
  p.emit(1, 'b');
  p.finish();
  const sent = pollAll(p);
  t.deepEqual(sent, [{ sub: 0, seq: 0, event: 'end-of-partition', backlog: 0 }]);
  t.false(p.drained);
  p.addCredit(1, 1);
  pollAll(p);
  t.true(p.drained);
  t.false(p.hasSendable);
  t.is(p.buffersInUse, 0);
});

test('result partition - not drained before finish even with nothing queued (invariant 5)', (t) => {
  const p = partition({ subs: 1 });
  p.addCredit(0, 1);
  pollAll(p);
  t.false(p.drained);
});

test('result partition - finishing twice queues only one end-of-partition per subpartition (invariant 5)', (t) => {
  const p = partition({ subs: 2 });
  p.finish();
  p.finish();
  const sent = pollAll(p);
  t.is(sent.length, 2);
  t.true(sent.every((s) => s.event === 'end-of-partition'));
  t.true(p.drained);
});

test('result partition - emit after finish is a protocol violation (invariant 5)', (t) => {
  const p = partition({ subs: 2 });
  p.finish();
  const error = t.throws(() => p.emit(0, 'late'), { instanceOf: TroupeError, code: 'TROUPE_PROTOCOL_VIOLATION' });
  t.regex(error.message, /finished partition e0/);
});

test('result partition - emitRoundRobin after finish is a protocol violation (invariant 5)', (t) => {
  const p = partition({ subs: 2 });
  p.finish();
  t.throws(() => p.emitRoundRobin('late'), { instanceOf: TroupeError, code: 'TROUPE_PROTOCOL_VIOLATION' });
});

test('result partition - broadcast after finish is a protocol violation (invariant 5)', (t) => {
  const p = partition({ subs: 2 });
  p.finish();
  t.throws(() => p.broadcast('late'), { instanceOf: TroupeError, code: 'TROUPE_PROTOCOL_VIOLATION' });
});

test('result partition - a rejected emit after finish leaves nothing new to send (invariant 5)', (t) => {
  const p = partition({ subs: 1 });
  p.finish();
  pollAll(p);
  t.throws(() => p.emit(0, 'late'));
  p.addCredit(0, 5);
  t.deepEqual(pollAll(p), []);
  t.is(p.buffersInUse, 0);
  t.true(p.drained);
});

// ---- routing ----

test('result partition - round-robin starts at the producer index and cycles over all subpartitions', (t) => {
  const p = partition({ subs: 3, bufferRecords: 1, producer: 4 }); // 4 % 3 = 1
  for (let i = 0; i < 6; i++) p.emitRoundRobin(i);
  for (let s = 0; s < 3; s++) p.addCredit(s, 10);
  const bySub = new Map<number, unknown[]>();
  for (const s of pollAll(p)) bySub.set(s.sub, [...(bySub.get(s.sub) ?? []), ...(s.records ?? [])]);
  t.deepEqual(bySub.get(1), [0, 3]);
  t.deepEqual(bySub.get(2), [1, 4]);
  t.deepEqual(bySub.get(0), [2, 5]);
});

test('result partition - round-robin over a single subpartition always picks it', (t) => {
  const p = partition({ subs: 1, bufferRecords: 1, producer: 7 });
  p.emitRoundRobin('a');
  p.emitRoundRobin('b');
  p.addCredit(0, 2);
  t.deepEqual(
    pollAll(p).map((s) => s.records),
    [['a'], ['b']],
  );
});

test('result partition - broadcast puts the record into every subpartition', (t) => {
  const p = partition({ subs: 3, bufferRecords: 1 });
  p.broadcast('x');
  for (let s = 0; s < 3; s++) p.addCredit(s, 1);
  t.deepEqual(pollAll(p), [
    { sub: 0, seq: 0, records: ['x'], backlog: 0 },
    { sub: 1, seq: 0, records: ['x'], backlog: 0 },
    { sub: 2, seq: 0, records: ['x'], backlog: 0 },
  ]);
});

test('result partition - broadcast takes one buffer per subpartition from the pool', (t) => {
  const p = partition({ subs: 4, bufferRecords: 5 });
  p.broadcast('x');
  t.is(p.buffersInUse, 4);
  p.broadcast('y'); // same filling buffers
  t.is(p.buffersInUse, 4);
});

test('result partition - the queue keeps working after being emptied many times', (t) => {
  const p = partition({ bufferRecords: 1 });
  const got: unknown[] = [];
  for (let round = 0; round < 50; round++) {
    p.emit(0, round);
    p.emit(0, -round);
    p.addCredit(0, 2);
    for (const s of pollAll(p)) got.push(...(s.records ?? []));
  }
  t.is(got.length, 100);
  t.deepEqual(got.slice(0, 4), [0, -0, 1, -1]);
  t.is(p.buffersInUse, 0);
});
