/**
 * Credit-based flow control end to end, wired by hand: P producer ResultPartitions
 * (actors/network/result-partition.ts) feed N consumer InputGateCredits
 * (actors/network/input-credits.ts) through a FIFO "network" with delay, with consumers slower
 * than producers. Checks, after every step:
 *  - a producer never sends a data buffer beyond the credit its consumer announced
 *    (ResultPartition invariant 1; InputGateCredits invariant 1 would throw otherwise),
 *  - buffers in flight (partitions + network + gates) never exceed the memory bound
 *    Σ pool sizes + Σ (exclusive · channels + floating),
 *  - floating slots are never lost (InputGateCredits invariant 3),
 * and at the end that every record arrived exactly once, in order, per channel, with
 * contiguous sequence numbers (ResultPartition invariant 2) and every partition drained (invariant 5).
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { ResultPartition, type QueueItem } from '../../actors/network/result-partition.js';
import { InputGateCredits } from '../../actors/network/input-credits.js';
import { seededRng } from '../helpers/prng.js';

interface Rec {
  readonly producer: number;
  readonly n: number;
}

type NetMessage =
  | { readonly kind: 'buffer'; readonly producer: number; readonly consumer: number; readonly seq: number; readonly records: unknown[]; readonly backlog: number }
  | { readonly kind: 'event'; readonly producer: number; readonly consumer: number; readonly seq: number }
  | { readonly kind: 'credit'; readonly producer: number; readonly consumer: number; readonly credit: number };

interface Producer {
  readonly rp: ResultPartition;
  emitted: number;
  readonly total: number;
  readonly granted: number[];
  readonly sentData: number[];
  readonly sentSeq: number[];
  /** Records routed to each consumer, in emit order. */
  readonly expected: number[][];
}

interface Consumer {
  readonly gate: InputGateCredits;
  /** Received, not yet processed: buffers (recycled once processed) and end markers. */
  readonly inbox: Array<{ producer: number; records: unknown[] | null }>;
  readonly nextSeq: number[];
  readonly ended: boolean[];
  /** Records by producer, in arrival order. */
  readonly received: number[][];
}

interface SimConfig {
  readonly producers: number;
  readonly consumers: number;
  readonly bufferRecords: number;
  readonly exclusive: number;
  readonly floating: number;
  readonly poolSize: number;
  readonly flushEveryRecord: boolean;
  readonly recordsPerProducer: number;
  /** Probability that a consumer processes one inbox item in a step (slow consumer < 1). */
  readonly consumeRate: number;
}

interface SimStats {
  steps: number;
  backpressured: number;
  maxInFlight: number;
  bound: number;
}

function runSimulation(t: ExecutionContext, seed: number, cfg: SimConfig): SimStats {
  const rng = seededRng(seed);
  const where = `seed ${seed} ${JSON.stringify(cfg)}`;
  const producers: Producer[] = [];
  for (let i = 0; i < cfg.producers; i++) {
    producers.push({
      rp: new ResultPartition('e1', cfg.consumers, cfg.bufferRecords, cfg.poolSize, cfg.flushEveryRecord, i),
      emitted: 0,
      total: cfg.recordsPerProducer,
      granted: new Array<number>(cfg.consumers).fill(0),
      sentData: new Array<number>(cfg.consumers).fill(0),
      sentSeq: new Array<number>(cfg.consumers).fill(0),
      expected: Array.from({ length: cfg.consumers }, () => []),
    });
  }
  const consumers: Consumer[] = [];
  for (let j = 0; j < cfg.consumers; j++) {
    consumers.push({
      gate: new InputGateCredits(cfg.producers, cfg.exclusive, cfg.floating),
      inbox: [],
      nextSeq: new Array<number>(cfg.producers).fill(0),
      ended: new Array<boolean>(cfg.producers).fill(false),
      received: Array.from({ length: cfg.producers }, () => []),
    });
  }
  const network: NetMessage[] = [];
  const bound = cfg.producers * cfg.poolSize + cfg.consumers * (cfg.exclusive * cfg.producers + cfg.floating);
  const stats: SimStats = { steps: 0, backpressured: 0, maxInFlight: 0, bound };

  const announce = (j: number): void => {
    for (const [channel, credit] of consumers[j]!.gate.drainCredits()) {
      if (consumers[j]!.ended[channel]) continue;
      network.push({ kind: 'credit', producer: channel, consumer: j, credit });
    }
  };
  const send = (i: number): void => {
    const p = producers[i]!;
    p.rp.poll((sub: number, seq: number, item: QueueItem, backlog: number) => {
      if (seq !== p.sentSeq[sub]) t.fail(`${where}: producer ${i} sub ${sub} sent seq ${seq}, expected ${p.sentSeq[sub]}`);
      p.sentSeq[sub] = seq + 1;
      if (item.event === undefined) {
        p.sentData[sub]!++;
        if (p.sentData[sub]! > p.granted[sub]!) t.fail(`${where}: producer ${i} sent ${p.sentData[sub]} buffers to ${sub} with only ${p.granted[sub]} credit`);
        network.push({ kind: 'buffer', producer: i, consumer: sub, seq, records: item.records as unknown[], backlog });
      } else {
        network.push({ kind: 'event', producer: i, consumer: sub, seq });
      }
    });
  };
  const deliver = (m: NetMessage): void => {
    if (m.kind === 'credit') {
      producers[m.producer]!.granted[m.consumer]! += m.credit;
      producers[m.producer]!.rp.addCredit(m.consumer, m.credit);
      send(m.producer);
      return;
    }
    const c = consumers[m.consumer]!;
    if (m.seq !== c.nextSeq[m.producer]) t.fail(`${where}: consumer ${m.consumer} got seq ${m.seq} from ${m.producer}, expected ${c.nextSeq[m.producer]}`);
    c.nextSeq[m.producer] = m.seq + 1;
    if (m.kind === 'buffer') {
      c.gate.onBuffer(m.producer, m.backlog); // throws TROUPE_PROTOCOL_VIOLATION if beyond credit
      c.inbox.push({ producer: m.producer, records: m.records });
    } else {
      c.inbox.push({ producer: m.producer, records: null });
    }
  };
  const inFlight = (): number => {
    let n = network.filter((m) => m.kind === 'buffer').length;
    for (const p of producers) n += p.rp.buffersInUse;
    for (const c of consumers) n += c.gate.buffersInUse;
    return n;
  };
  const check = (): void => {
    const n = inFlight();
    stats.maxInFlight = Math.max(stats.maxInFlight, n);
    if (n > bound) t.fail(`${where}, step ${stats.steps}: ${n} buffers in flight > bound ${bound}`);
    for (const [i, p] of producers.entries()) {
      if (p.rp.buffersInUse > cfg.poolSize) t.fail(`${where}: producer ${i} holds ${p.rp.buffersInUse} > pool ${cfg.poolSize}`);
    }
    for (const [j, c] of consumers.entries()) {
      let held = 0;
      for (let i = 0; i < cfg.producers; i++) held += c.gate.inspect(i).floatingHeld;
      if (held + c.gate.floatingInPool !== cfg.floating) t.fail(`${where}: consumer ${j} lost floating slots`);
      const inNet = network.filter((m) => m.kind === 'buffer' && m.consumer === j).length;
      if (inNet + c.gate.buffersInUse > cfg.exclusive * cfg.producers + cfg.floating) t.fail(`${where}: consumer ${j} over its credit budget`);
    }
  };

  for (let j = 0; j < cfg.consumers; j++) announce(j);
  const done = (): boolean => network.length === 0 && producers.every((p) => p.rp.drained) && consumers.every((c) => c.inbox.length === 0);
  while (!done()) {
    stats.steps++;
    if (stats.steps > 500_000) {
      t.fail(`${where}: no progress after ${stats.steps} steps (deadlock?)`);
      break;
    }
    // producers: emit while the partition is available (backpressure), flush now and then
    for (const i of [...producers.keys()].sort(() => rng.next() - 0.5)) {
      const p = producers[i]!;
      if (p.emitted < p.total) {
        const burst = rng.int(1, 6);
        for (let k = 0; k < burst && p.emitted < p.total; k++) {
          if (!p.rp.available) {
            stats.backpressured++;
            // buffer timeout: a pool full of partial buffers must still make progress
            if (!p.rp.hasSendable) p.rp.flush();
            break;
          }
          const sub = rng.chance(0.5) ? (p.emitted * 7 + i) % cfg.consumers : rng.int(0, cfg.consumers - 1);
          const rec: Rec = { producer: i, n: p.emitted };
          p.expected[sub]!.push(rec.n);
          p.rp.emit(sub, rec);
          p.emitted++;
        }
        if (p.emitted < p.total && rng.chance(0.1)) p.rp.flush();
      }
      if (p.emitted === p.total) p.rp.finish(); // idempotent
      send(i);
      check();
    }
    // network: deliver a random number of messages in FIFO order
    const k = rng.int(0, 4);
    for (let d = 0; d < k && network.length > 0; d++) {
      deliver(network.shift()!);
      check();
    }
    // consumers: slow; process at most one inbox item, then recycle its slot and announce
    for (let j = 0; j < cfg.consumers; j++) {
      const c = consumers[j]!;
      if (c.inbox.length > 0 && rng.chance(cfg.consumeRate)) {
        const item = c.inbox.shift()!;
        if (item.records === null) {
          if (c.ended[item.producer]) t.fail(`${where}: channel ended twice`);
          c.ended[item.producer] = true;
        } else {
          for (const r of item.records as Rec[]) {
            if (r.producer !== item.producer) t.fail(`${where}: record of ${r.producer} on channel ${item.producer}`);
            c.received[item.producer]!.push(r.n);
          }
          c.gate.recycle(item.producer);
        }
      }
      announce(j);
      check();
    }
  }

  for (let i = 0; i < cfg.producers; i++) {
    for (let j = 0; j < cfg.consumers; j++) {
      const got = consumers[j]!.received[i]!;
      const want = producers[i]!.expected[j]!;
      if (got.length !== want.length || got.some((n, x) => n !== want[x])) {
        t.fail(`${where}: channel ${i}→${j} received ${got.length} records, expected ${want.length} in order`);
      }
    }
  }
  t.true(
    consumers.every((c) => c.ended.every(Boolean)),
    `${where}: every channel ended`,
  );
  t.true(
    producers.every((p) => p.rp.drained && p.rp.buffersInUse === 0),
    `${where}: every partition drained`,
  );
  const total = consumers.reduce((s, c) => s + c.received.reduce((a, r) => a + r.length, 0), 0);
  t.is(total, cfg.producers * cfg.recordsPerProducer, where);
  return stats;
}

const streamTaskPool = (consumers: number, exclusive: number, floating: number): number => Math.max(consumers + 1, consumers * exclusive + floating);

test('credit flow - one producer, one consumer: every record arrives once and in order within the memory bound', (t) => {
  const stats = runSimulation(t, 7, {
    producers: 1,
    consumers: 1,
    bufferRecords: 4,
    exclusive: 2,
    floating: 3,
    poolSize: 4,
    flushEveryRecord: false,
    recordsPerProducer: 2_000,
    consumeRate: 0.2,
  });
  t.true(stats.backpressured > 0, 'the slow consumer must backpressure the producer');
  t.true(stats.maxInFlight <= stats.bound);
});

test('credit flow - all-to-all with a pool sized like StreamTask never exceeds credit or the memory bound', (t) => {
  const exclusive = 2;
  const floating = 4;
  const stats = runSimulation(t, 42, {
    producers: 3,
    consumers: 4,
    bufferRecords: 3,
    exclusive,
    floating,
    poolSize: streamTaskPool(4, exclusive, floating),
    flushEveryRecord: false,
    recordsPerProducer: 1_500,
    consumeRate: 0.3,
  });
  t.true(stats.backpressured > 0);
});

test('credit flow - a pool smaller than the number of subpartitions still completes (flush on backpressure)', (t) => {
  runSimulation(t, 99, {
    producers: 2,
    consumers: 5,
    bufferRecords: 8,
    exclusive: 1,
    floating: 0,
    poolSize: 2,
    flushEveryRecord: false,
    recordsPerProducer: 800,
    consumeRate: 0.25,
  });
  t.pass();
});

test('credit flow - flushEveryRecord (buffer timeout 0) delivers every record once and in order', (t) => {
  const stats = runSimulation(t, 5, {
    producers: 2,
    consumers: 2,
    bufferRecords: 100,
    exclusive: 1,
    floating: 2,
    poolSize: 3,
    flushEveryRecord: true,
    recordsPerProducer: 1_000,
    consumeRate: 0.15,
  });
  t.true(stats.backpressured > 0);
});

test('credit flow - randomized configurations never exceed credit, lose, duplicate or reorder records', (t) => {
  const rng = seededRng(2024);
  for (let run = 0; run < 40; run++) {
    const producers = rng.int(1, 4);
    const consumers = rng.int(1, 5);
    const exclusive = rng.int(1, 3);
    const floating = rng.int(0, 6);
    runSimulation(t, 10_000 + run, {
      producers,
      consumers,
      bufferRecords: rng.int(1, 6),
      exclusive,
      floating,
      poolSize: rng.chance(0.5) ? streamTaskPool(consumers, exclusive, floating) : rng.int(1, 4),
      flushEveryRecord: rng.chance(0.2),
      recordsPerProducer: rng.int(0, 400),
      consumeRate: 0.1 + rng.next() * 0.5,
    });
  }
  t.pass();
});
