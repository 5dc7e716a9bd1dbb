/**
 * InputGateCredits (actors/network/input-credits.ts). Invariants cited from the module header:
 *  1. announced − received = free slots ≥ 0, per channel
 *  2. exclusive slots per channel for life; floating slots borrowed for backlog and given back
 *  3. pool + held by channels = floating, always
 *  4. waiters for a floating slot are served FIFO
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { InputGateCredits } from '../../actors/network/input-credits.js';
import { TroupeError } from '../../core/errors.js';
import { seededRng } from '../helpers/prng.js';

function floatingHeld(gate: InputGateCredits, channels: number): number {
  let n = 0;
  for (let i = 0; i < channels; i++) n += gate.inspect(i).floatingHeld;
  return n;
}

// ---- initial state ----

test('input credits - each channel initially announces exactly its exclusive credits', (t) => {
  const gate = new InputGateCredits(3, 2, 5);
  t.true(gate.hasCreditsToAnnounce);
  t.deepEqual(gate.drainCredits(), [
    [0, 2],
    [1, 2],
    [2, 2],
  ]);
});

test('input credits - all floating slots start in the pool', (t) => {
  const gate = new InputGateCredits(3, 2, 5);
  t.is(gate.floatingInPool, 5);
  for (let i = 0; i < 3; i++) t.deepEqual(gate.inspect(i), { free: 2, floatingHeld: 0, used: 0, required: 2 });
  t.is(gate.buffersInUse, 0);
});

test('input credits - a second drain announces nothing new', (t) => {
  const gate = new InputGateCredits(2, 1, 0);
  gate.drainCredits();
  t.false(gate.hasCreditsToAnnounce);
  t.deepEqual(gate.drainCredits(), []);
});

test('input credits - a gate with zero channels announces nothing', (t) => {
  const gate = new InputGateCredits(0, 1, 3);
  t.false(gate.hasCreditsToAnnounce);
  t.deepEqual(gate.drainCredits(), []);
});

test('input credits - fewer than one exclusive credit per channel is an invalid argument', (t) => {
  t.throws(() => new InputGateCredits(2, 0, 4), { instanceOf: TroupeError, code: 'TROUPE_INVALID_ARGUMENT' });
});

// ---- protocol violations (invariant 1) ----

test('input credits - a buffer without credit is a protocol violation (invariant 1)', (t) => {
  const gate = new InputGateCredits(1, 1, 0);
  gate.drainCredits();
  gate.onBuffer(0, 0);
  const error = t.throws(() => gate.onBuffer(0, 0), { instanceOf: TroupeError, code: 'TROUPE_PROTOCOL_VIOLATION' });
  t.regex(error.message, /channel 0 .*without credit/);
});

test('input credits - a rejected buffer leaves the accounting unchanged', (t) => {
  const gate = new InputGateCredits(1, 1, 0);
  gate.drainCredits();
  gate.onBuffer(0, 0);
  t.throws(() => gate.onBuffer(0, 0), { code: 'TROUPE_PROTOCOL_VIOLATION' });
  t.deepEqual(gate.inspect(0), { free: 0, floatingHeld: 0, used: 1, required: 1 });
});

test('input credits - exhausting exclusive credit on one channel does not affect another', (t) => {
  const gate = new InputGateCredits(2, 1, 0);
  gate.drainCredits();
  gate.onBuffer(0, 0);
  t.notThrows(() => gate.onBuffer(1, 0));
  t.throws(() => gate.onBuffer(0, 0), { code: 'TROUPE_PROTOCOL_VIOLATION' });
});

test('input credits - a buffer on an unknown channel is a protocol violation', (t) => {
  const gate = new InputGateCredits(2, 1, 0);
  t.throws(() => gate.onBuffer(2, 0), { instanceOf: TroupeError, code: 'TROUPE_PROTOCOL_VIOLATION' });
  t.throws(() => gate.onBuffer(-1, 0), { instanceOf: TroupeError, code: 'TROUPE_PROTOCOL_VIOLATION' });
});

test('input credits - recycling on a channel that received nothing throws', (t) => {
  const gate = new InputGateCredits(2, 2, 2);
  const error = t.throws(() => gate.recycle(1), { instanceOf: TroupeError, code: 'TROUPE_PROTOCOL_VIOLATION' });
  t.regex(error.message, /recycled more buffers than it received/);
});

test('input credits - recycling more buffers than received throws', (t) => {
  const gate = new InputGateCredits(1, 2, 2);
  gate.drainCredits();
  gate.onBuffer(0, 0);
  gate.onBuffer(0, 0);
  gate.recycle(0);
  gate.recycle(0);
  t.throws(() => gate.recycle(0), { instanceOf: TroupeError, code: 'TROUPE_PROTOCOL_VIOLATION' });
});

// ---- exclusive credits ----

test('input credits - recycling an exclusive slot announces one credit', (t) => {
  const gate = new InputGateCredits(1, 2, 0);
  gate.drainCredits();
  gate.onBuffer(0, 0);
  t.false(gate.hasCreditsToAnnounce);
  gate.recycle(0);
  t.true(gate.hasCreditsToAnnounce);
  t.deepEqual(gate.drainCredits(), [[0, 1]]);
});

test('input credits - credits of several recycles on one channel are announced as one sum', (t) => {
  const gate = new InputGateCredits(2, 3, 0);
  gate.drainCredits();
  for (let i = 0; i < 3; i++) gate.onBuffer(1, 0);
  gate.recycle(1);
  gate.recycle(1);
  t.deepEqual(gate.drainCredits(), [[1, 2]]);
});

test('input credits - buffersInUse counts received, not yet recycled buffers of all channels', (t) => {
  const gate = new InputGateCredits(2, 2, 0);
  gate.onBuffer(0, 0);
  gate.onBuffer(1, 0);
  gate.onBuffer(1, 0);
  t.is(gate.buffersInUse, 3);
  gate.recycle(1);
  t.is(gate.buffersInUse, 2);
});

// ---- floating credits (invariant 2 and 3) ----

test('input credits - announced backlog claims floating slots until free slots cover backlog + exclusive (invariant 2)', (t) => {
  const gate = new InputGateCredits(1, 2, 10);
  gate.drainCredits();
  gate.onBuffer(0, 3);
  // one exclusive used, free 1; required 3 + 2 = 5 → 4 floating claimed
  t.deepEqual(gate.inspect(0), { free: 5, floatingHeld: 4, used: 1, required: 5 });
  t.is(gate.floatingInPool, 6);
  t.deepEqual(gate.drainCredits(), [[0, 4]]);
});

test('input credits - onBacklog alone claims floating slots', (t) => {
  const gate = new InputGateCredits(2, 1, 4);
  gate.drainCredits();
  gate.onBacklog(1, 2);
  t.deepEqual(gate.drainCredits(), [[1, 2]]);
  t.is(gate.floatingInPool, 2);
});

test('input credits - a zero backlog announced before any buffer claims no floating slot', (t) => {
  const gate = new InputGateCredits(1, 2, 4);
  gate.drainCredits();
  gate.onBacklog(0, 0);
  t.is(gate.floatingInPool, 4);
  t.deepEqual(gate.drainCredits(), []);
});

test('input credits - with zero backlog a channel tops its free slots up to the exclusive count (Flink: required = backlog + initial credit)', (t) => {
  const gate = new InputGateCredits(1, 2, 4);
  gate.drainCredits();
  gate.onBuffer(0, 0); // one exclusive slot holds the buffer; required = 0 + 2
  t.deepEqual(gate.inspect(0), { free: 2, floatingHeld: 1, used: 1, required: 2 });
  t.is(gate.floatingInPool, 3);
  t.deepEqual(gate.drainCredits(), [[0, 1]]);
});

test('input credits - claims stop when the pool is empty', (t) => {
  const gate = new InputGateCredits(1, 1, 2);
  gate.drainCredits();
  gate.onBacklog(0, 10);
  t.is(gate.floatingInPool, 0);
  t.deepEqual(gate.drainCredits(), [[0, 2]]);
  t.is(gate.inspect(0).free, 3);
});

test('input credits - received buffers use a free floating slot before an exclusive one', (t) => {
  const gate = new InputGateCredits(1, 1, 1);
  gate.drainCredits();
  gate.onBacklog(0, 1); // free: 1 exclusive + 1 floating
  gate.onBuffer(0, 0); // takes the floating slot; required drops to 1
  t.deepEqual(gate.inspect(0), { free: 1, floatingHeld: 1, used: 1, required: 1 });
  gate.recycle(0); // the floating slot is no longer needed: back to the pool, no credit
  t.is(gate.floatingInPool, 1);
  t.deepEqual(gate.inspect(0), { free: 1, floatingHeld: 0, used: 0, required: 1 });
  t.deepEqual(gate.drainCredits(), [[0, 1]]); // only the claim, never a second credit
});

test('input credits - a recycled floating slot is kept and re-announced while backlog needs it', (t) => {
  const gate = new InputGateCredits(1, 1, 1);
  gate.drainCredits();
  gate.onBacklog(0, 1);
  gate.drainCredits();
  gate.onBuffer(0, 5); // floating slot used; backlog 5 wants more, pool empty
  gate.recycle(0); // floating slot comes back and is still needed
  t.is(gate.floatingInPool, 0);
  t.deepEqual(gate.drainCredits(), [[0, 1]]);
  t.is(gate.inspect(0).floatingHeld, 1);
});

test('input credits - an exclusive slot recycled while surplus floating credit is announced swaps without new credit', (t) => {
  const gate = new InputGateCredits(1, 1, 2);
  gate.drainCredits();
  gate.onBuffer(0, 1); // exclusive used, required 2 → both floating claimed (free 2)
  t.deepEqual(gate.drainCredits(), [[0, 2]]);
  gate.recycle(0); // exclusive back: free would be 3 > required 2 → one floating returned
  t.deepEqual(gate.drainCredits(), []);
  t.is(gate.floatingInPool, 1);
  // invariant 1: announced 3, received 1, free 2
  t.is(gate.inspect(0).free, 2);
});

test('input credits - pool plus held floating slots equal the floating total through a scripted run (invariant 3)', (t) => {
  const channels = 3;
  const gate = new InputGateCredits(channels, 1, 2);
  const check = (): void => {
    t.is(gate.floatingInPool + floatingHeld(gate, channels), 2);
  };
  gate.drainCredits();
  check();
  gate.onBuffer(0, 2);
  check();
  gate.onBuffer(1, 3);
  check();
  gate.onBuffer(0, 1);
  check();
  gate.recycle(0);
  check();
  gate.recycle(1);
  check();
  gate.recycle(0);
  check();
});

// ---- FIFO waiters (invariant 4) ----

test('input credits - channels waiting for a floating slot are served in arrival order (invariant 4)', (t) => {
  const gate = new InputGateCredits(3, 1, 1);
  gate.drainCredits();
  gate.onBacklog(0, 1); // channel 0 holds the only floating slot
  gate.onBacklog(1, 1); // waits first
  gate.onBacklog(2, 1); // waits second
  t.deepEqual(gate.drainCredits(), [[0, 1]]);

  gate.onBuffer(0, 0); // uses the floating slot, channel 0 no longer needs it
  gate.recycle(0);
  t.deepEqual(gate.drainCredits(), [[1, 1]]);
  t.is(gate.floatingInPool, 0);

  gate.onBuffer(1, 0);
  gate.recycle(1);
  t.deepEqual(gate.drainCredits(), [[2, 1]]);
});

test('input credits - a waiter that still needs more after being served queues again behind the others (invariant 4)', (t) => {
  const gate = new InputGateCredits(3, 1, 2);
  gate.drainCredits();
  gate.onBacklog(0, 2); // channel 0 holds both floating slots
  gate.onBacklog(1, 2); // waits first, needs two
  gate.onBacklog(2, 1); // waits second, needs one
  t.deepEqual(gate.drainCredits(), [[0, 2]]);
  gate.onBuffer(0, 0);
  gate.onBuffer(0, 0); // both floating slots now hold buffers; channel 0 needs none
  const served: number[] = [];
  gate.recycle(0);
  for (const [channel] of gate.drainCredits()) served.push(channel);
  gate.recycle(0);
  for (const [channel] of gate.drainCredits()) served.push(channel);
  // channel 2 uses and returns its slot: channel 1, queued again behind 2, gets it
  gate.onBuffer(2, 0);
  gate.recycle(2);
  for (const [channel] of gate.drainCredits()) served.push(channel);
  t.deepEqual(served, [1, 2, 1]);
  t.is(gate.inspect(1).free, 3);
});

test('input credits - a waiter that no longer needs a slot is skipped in favour of the next', (t) => {
  const gate = new InputGateCredits(3, 1, 1);
  gate.drainCredits();
  gate.onBacklog(0, 1);
  gate.onBacklog(1, 1); // waits first
  gate.onBacklog(2, 1); // waits second
  gate.drainCredits();
  gate.onBacklog(1, 0); // channel 1's sender has nothing queued any more
  gate.onBuffer(0, 0);
  gate.recycle(0);
  t.deepEqual(gate.drainCredits(), [[2, 1]]);
});

test('input credits - a slot nobody waits for returns to the pool', (t) => {
  const gate = new InputGateCredits(2, 1, 1);
  gate.drainCredits();
  gate.onBacklog(0, 1);
  gate.onBacklog(1, 1); // waits
  gate.onBacklog(1, 0); // no longer needs it
  gate.onBuffer(0, 0);
  gate.recycle(0);
  t.is(gate.floatingInPool, 1);
  t.deepEqual(gate.drainCredits(), [[0, 1]]);
});

// ---- randomized simulation: invariants 1 and 3 ----

interface SimChannel {
  queued: number; // sender's buffers not yet sent
  toProduce: number; // buffers the sender will still produce
  announced: number; // credit drained from the gate for this channel
  sent: number;
  unrecycled: number; // received by the gate, not yet recycled
}

function simulate(t: ExecutionContext, seed: number): { steps: number; delivered: number; maxFloatingHeld: number } {
  const rng = seededRng(seed);
  const numChannels = rng.int(1, 12);
  const exclusive = rng.int(1, 3);
  const floating = rng.int(0, 12);
  const gate = new InputGateCredits(numChannels, exclusive, floating);
  const chans: SimChannel[] = [];
  let total = 0;
  for (let i = 0; i < numChannels; i++) {
    const toProduce = rng.int(0, 60);
    total += toProduce;
    chans.push({ queued: 0, toProduce, announced: 0, sent: 0, unrecycled: 0 });
  }
  const where = `seed ${seed} (channels ${numChannels}, exclusive ${exclusive}, floating ${floating})`;
  let delivered = 0;
  let maxFloatingHeld = 0;
  let steps = 0;
  const checkInvariants = (): void => {
    let held = 0;
    for (let i = 0; i < numChannels; i++) {
      const c = chans[i]!;
      const view = gate.inspect(i);
      // invariant 1: announced − received = free ≥ 0 (checked right after a drain)
      if (c.announced - c.sent !== view.free || view.free < 0) {
        t.fail(`${where}, step ${steps}: channel ${i} announced ${c.announced} received ${c.sent} but free ${view.free}`);
      }
      if (view.used !== c.unrecycled) t.fail(`${where}: channel ${i} used ${view.used} != unrecycled ${c.unrecycled}`);
      held += view.floatingHeld;
    }
    // invariant 3: pool + held = floating
    if (gate.floatingInPool + held !== floating || gate.floatingInPool < 0) {
      t.fail(`${where}, step ${steps}: pool ${gate.floatingInPool} + held ${held} != floating ${floating}`);
    }
    maxFloatingHeld = Math.max(maxFloatingHeld, held);
  };
  const drain = (): void => {
    for (const [channel, credit] of gate.drainCredits()) {
      if (!(credit > 0)) t.fail(`${where}: non-positive credit ${credit}`);
      chans[channel]!.announced += credit;
    }
  };
  drain();
  checkInvariants();
  const busy = (): boolean => chans.some((c) => c.toProduce > 0 || c.queued > 0 || c.unrecycled > 0);
  while (busy()) {
    steps++;
    if (steps > 200_000) {
      t.fail(`${where}: no progress (possible credit deadlock)`);
      break;
    }
    const i = rng.int(0, numChannels - 1);
    const c = chans[i]!;
    const action = rng.int(0, 9);
    if (action <= 2 && c.toProduce > 0) {
      const n = Math.min(c.toProduce, rng.int(1, 8));
      c.toProduce -= n;
      c.queued += n;
      if (rng.chance(0.3)) gate.onBacklog(i, c.queued); // sender announces its backlog
    } else if (action <= 6 && c.queued > 0 && c.announced - c.sent > 0) {
      // never send more than announced credit
      c.queued--;
      c.sent++;
      c.unrecycled++;
      gate.onBuffer(i, c.queued);
      delivered++;
    } else if (c.unrecycled > 0) {
      c.unrecycled--;
      gate.recycle(i); // per-channel FIFO: the gate recycles the oldest buffer of the channel
    }
    drain();
    checkInvariants();
  }
  t.is(delivered, total, where);
  return { steps, delivered, maxFloatingHeld };
}

test('input credits - randomized: announced − received = free ≥ 0 on every channel after every step (invariants 1 and 3)', (t) => {
  let delivered = 0;
  let borrowed = 0;
  for (let seed = 1; seed <= 200; seed++) {
    const r = simulate(t, seed);
    delivered += r.delivered;
    if (r.maxFloatingHeld > 0) borrowed++;
  }
  // the simulation must actually exercise data transfer and floating slots
  t.true(delivered > 10_000, `delivered ${delivered}`);
  t.true(borrowed > 100, `floating slots borrowed in only ${borrowed} runs`);
});

test('input credits - randomized: a sender that respects announced credit never triggers a protocol violation', (t) => {
  for (let seed = 1000; seed < 1100; seed++) {
    t.notThrows(() => simulate(t, seed), `seed ${seed}`);
  }
});
