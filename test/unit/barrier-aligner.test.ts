/**
 * Barrier alignment and tracking (actors/network/barrier-aligner.ts). Invariants cited from the
 * module header:
 *  1. a channel is blocked from its barrier n until n triggers or aborts; its events are refused
 *  2. n triggers once every channel not ended delivered barrier n; ended channels count as aligned;
 *     'trigger-snapshot' precedes 'release'
 *  3. one aligning checkpoint; a newer barrier / cancel marker subsumes it; cancel or abort() aborts it
 *  4. at most one of trigger/abort per id, ids only grow; markers at or below the newest are ignored
 *  5. no deadlock: the alignment ends when every unblocked channel delivered n, a newer marker or its end
 *  6. a single channel never blocks
 *  7. at-least-once never blocks; n triggers when every channel not ended delivered barrier n
 *  8. at-least-once: older pending are subsumed on trigger, maxPending bounds tracking, cancel aborts
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { BarrierAligner, BarrierTracker, createBarrierHandler, type BarrierEffect, type BarrierHandler, type CheckpointingMode } from '../../actors/network/barrier-aligner.js';
import type { NetworkEvent } from '../../actors/network/result-partition.js';
import { TroupeError } from '../../core/errors.js';
import { seededRng, type Rng } from '../helpers/prng.js';

const trigger = (checkpointId: number, timestamp = checkpointId * 10): BarrierEffect => ({ type: 'trigger-snapshot', checkpointId, timestamp });
const abort = (checkpointId: number, reason: 'subsumed' | 'cancel-marker' | 'too-many-pending' | 'external'): BarrierEffect => ({ type: 'abort', checkpointId, reason });
const block = (channel: number, checkpointId: number): BarrierEffect => ({ type: 'block', channel, checkpointId });
const release = (...channels: number[]): BarrierEffect => ({ type: 'release', channels });

function violation(t: ExecutionContext, fn: () => unknown, message?: RegExp): void {
  const error = t.throws(fn, { instanceOf: TroupeError });
  t.is(error?.code, 'TROUPE_PROTOCOL_VIOLATION');
  if (message !== undefined) t.regex(error?.message ?? '', message);
}

// ---- exactly-once: blocking and triggering (invariants 1, 2) ----

test('barrier aligner - the first barrier blocks its channel and the last one triggers, snapshot before release (invariants 1, 2)', (t) => {
  const a = new BarrierAligner(3);
  t.deepEqual(a.onBarrier(0, 1, 10), [block(0, 1)]);
  t.true(a.isBlocked(0));
  t.is(a.pendingCheckpoint, 1);
  t.deepEqual(a.onBarrier(2, 1, 10), [block(2, 1)]);
  t.true(a.isBlocked(2));
  t.false(a.isBlocked(1));
  t.deepEqual(a.onBarrier(1, 1, 10), [trigger(1), release(0, 2)]);
  t.false(a.isBlocked(0));
  t.false(a.isBlocked(2));
  t.is(a.pendingCheckpoint, null);
  t.is(a.latestCheckpoint, 1);
});

test('barrier aligner - the timestamp of the trigger is the one of the first barrier (invariant 2)', (t) => {
  const a = new BarrierAligner(2);
  a.onBarrier(1, 4, 111);
  t.deepEqual(a.onBarrier(0, 4, 999), [trigger(4, 111), release(1)]);
});

test('barrier aligner - any event of a blocked channel is refused: the caller must hold it back (invariant 1)', (t) => {
  const a = new BarrierAligner(2);
  a.onBarrier(0, 1, 0);
  violation(t, () => a.onBarrier(0, 2, 0), /blocked/);
  violation(t, () => a.onBarrier(0, 1, 0), /blocked/);
  violation(t, () => a.onCancel(0, 1), /blocked/);
  violation(t, () => a.onEndOfPartition(0), /blocked/);
  violation(t, () => a.onEvent(0, { kind: 'watermark', timestamp: 5 }), /blocked/);
  // the refused events changed nothing
  t.deepEqual(a.onBarrier(1, 1, 10), [trigger(1, 0), release(0)]);
});

test('barrier aligner - an ended channel counts as aligned for the pending checkpoint (invariant 2)', (t) => {
  const a = new BarrierAligner(3);
  a.onBarrier(0, 1, 10);
  a.onBarrier(1, 1, 10);
  t.deepEqual(a.onEndOfPartition(2), [trigger(1), release(0, 1)]);
});

test('barrier aligner - with other channels ended a barrier triggers at once, without blocking (invariants 2, 6)', (t) => {
  const a = new BarrierAligner(3);
  t.deepEqual(a.onEndOfPartition(0), []);
  t.deepEqual(a.onEndOfPartition(2), []);
  t.deepEqual(a.onBarrier(1, 1, 10), [trigger(1)]);
  t.false(a.isBlocked(1));
});

test('barrier aligner - an ended channel stays aligned for later checkpoints too (invariant 2)', (t) => {
  const a = new BarrierAligner(2);
  a.onEndOfPartition(1);
  t.deepEqual(a.onBarrier(0, 1, 10), [trigger(1)]);
  t.deepEqual(a.onBarrier(0, 2, 20), [trigger(2)]);
});

test('barrier aligner - events after end-of-partition and unknown channels are protocol violations', (t) => {
  const a = new BarrierAligner(2);
  a.onEndOfPartition(0);
  violation(t, () => a.onEndOfPartition(0), /after its end-of-partition/);
  violation(t, () => a.onBarrier(0, 1, 0), /after its end-of-partition/);
  violation(t, () => a.onBarrier(2, 1, 0), /2 channels/);
  violation(t, () => a.onBarrier(-1, 1, 0), /2 channels/);
  violation(t, () => a.onBarrier(1, -1, 0), /checkpoint id/);
  violation(t, () => a.onBarrier(1, 1.5, 0), /checkpoint id/);
  violation(t, () => a.onEvent(1, { kind: 'bogus' } as unknown as NetworkEvent), /unknown event/);
});

test('barrier aligner - channel counts below one are invalid arguments', (t) => {
  for (const n of [0, -1, 1.5, NaN]) {
    const error = t.throws(() => new BarrierAligner(n), { instanceOf: TroupeError });
    t.is(error?.code, 'TROUPE_INVALID_ARGUMENT');
  }
  t.is(t.throws(() => new BarrierTracker(2, 0), { instanceOf: TroupeError })?.code, 'TROUPE_INVALID_ARGUMENT');
  t.is(t.throws(() => new BarrierAligner(2).abort(-1), { instanceOf: TroupeError })?.code, 'TROUPE_INVALID_ARGUMENT');
  t.is(t.throws(() => new BarrierTracker(2).abort(0.5), { instanceOf: TroupeError })?.code, 'TROUPE_INVALID_ARGUMENT');
});

// ---- exactly-once: subsumption, cancellation, old barriers (invariants 3, 4) ----

test('barrier aligner - a newer barrier aborts the aligning checkpoint and starts aligning the newer one (invariant 3)', (t) => {
  const a = new BarrierAligner(3);
  a.onBarrier(0, 1, 10);
  a.onBarrier(1, 1, 10);
  t.deepEqual(a.onBarrier(2, 2, 20), [abort(1, 'subsumed'), release(0, 1), block(2, 2)]);
  t.is(a.pendingCheckpoint, 2);
  t.false(a.isBlocked(0));
  // the late barrier 1 of channel 0 is ignored (invariant 4)
  t.deepEqual(a.onBarrier(0, 1, 10), []);
  t.deepEqual(a.onBarrier(0, 2, 20), [block(0, 2)]);
  t.deepEqual(a.onBarrier(1, 2, 20), [trigger(2), release(0, 2)]);
});

test('barrier aligner - a cancel marker of the aligning checkpoint aborts it and releases (invariant 3)', (t) => {
  const a = new BarrierAligner(3);
  a.onBarrier(0, 5, 50);
  t.deepEqual(a.onCancel(1, 5), [abort(5, 'cancel-marker'), release(0)]);
  t.is(a.pendingCheckpoint, null);
  // the remaining markers of 5 are ignored, 6 aligns normally (invariant 4)
  t.deepEqual(a.onBarrier(2, 5, 50), []);
  t.deepEqual(a.onCancel(2, 5), []);
  t.deepEqual(a.onBarrier(0, 6, 60), [block(0, 6)]);
});

test('barrier aligner - a cancel marker arriving first aborts the checkpoint, whose barriers are then ignored (invariants 3, 4)', (t) => {
  const a = new BarrierAligner(2);
  t.deepEqual(a.onCancel(0, 3), [abort(3, 'cancel-marker')]);
  t.deepEqual(a.onBarrier(1, 3, 30), []);
  t.false(a.isBlocked(1));
  t.is(a.latestCheckpoint, 3);
});

test('barrier aligner - a cancel marker of a newer checkpoint aborts both, oldest first (invariants 3, 4)', (t) => {
  const a = new BarrierAligner(3);
  a.onBarrier(0, 1, 10);
  t.deepEqual(a.onCancel(1, 2), [abort(1, 'subsumed'), release(0), abort(2, 'cancel-marker')]);
  t.deepEqual(a.onBarrier(2, 2, 20), []);
  t.deepEqual(a.onBarrier(2, 3, 30), [block(2, 3)]);
});

test('barrier aligner - barriers and cancel markers older than the last triggered checkpoint are ignored (invariant 4)', (t) => {
  const a = new BarrierAligner(2);
  a.onBarrier(0, 7, 70);
  a.onBarrier(1, 7, 70);
  for (const id of [0, 3, 7]) {
    t.deepEqual(a.onBarrier(0, id, 0), []);
    t.deepEqual(a.onCancel(1, id), []);
  }
  t.false(a.isBlocked(0));
  t.is(a.pendingCheckpoint, null);
});

test('barrier aligner - a cancel marker older than the aligning checkpoint is ignored (invariant 4)', (t) => {
  const a = new BarrierAligner(2);
  a.onBarrier(0, 4, 40);
  t.deepEqual(a.onCancel(1, 3), []);
  t.is(a.pendingCheckpoint, 4);
  t.deepEqual(a.onBarrier(1, 4, 40), [trigger(4), release(0)]);
});

test('barrier aligner - abort() of the aligning checkpoint releases and ignores its late barriers (invariant 3)', (t) => {
  const a = new BarrierAligner(2);
  a.onBarrier(0, 2, 20);
  t.deepEqual(a.abort(2), [abort(2, 'external'), release(0)]);
  t.deepEqual(a.onBarrier(1, 2, 20), []);
  t.deepEqual(a.abort(2), []);
});

test('barrier aligner - abort() of a newer checkpoint subsumes the aligning one and fences the newer one (invariants 3, 4)', (t) => {
  const a = new BarrierAligner(2);
  a.onBarrier(0, 2, 20);
  t.deepEqual(a.abort(3, 'external'), [abort(2, 'subsumed'), release(0)]);
  t.deepEqual(a.onBarrier(1, 3, 30), []);
  t.deepEqual(a.onBarrier(1, 4, 40), [block(1, 4)]);
});

test('barrier aligner - abort() of an older checkpoint leaves the aligning one alone (invariant 3)', (t) => {
  const a = new BarrierAligner(2);
  a.onBarrier(0, 5, 50);
  t.deepEqual(a.abort(4), []);
  t.true(a.isBlocked(0));
});

test('barrier aligner - onEvent dispatches every kind of network event', (t) => {
  const a = new BarrierAligner(2);
  t.deepEqual(a.onEvent(0, { kind: 'watermark', timestamp: 1 }), []);
  t.deepEqual(a.onEvent(0, { kind: 'checkpoint-barrier', checkpointId: 1, timestamp: 10 }), [block(0, 1)]);
  t.deepEqual(a.onEvent(1, { kind: 'cancel-checkpoint', checkpointId: 1 }), [abort(1, 'cancel-marker'), release(0)]);
  t.deepEqual(a.onEvent(1, { kind: 'end-of-partition' }), []);
  t.deepEqual(a.onEvent(0, { kind: 'checkpoint-barrier', checkpointId: 2, timestamp: 20 }), [trigger(2)]);
});

// ---- single input (invariant 6) ----

for (const mode of ['exactly-once', 'at-least-once'] as const) {
  test(`barrier handler ${mode} - a single channel triggers every newer barrier at once and never blocks (invariant 6)`, (t) => {
    const h = createBarrierHandler(mode, 1);
    t.deepEqual(h.onBarrier(0, 1, 10), [trigger(1)]);
    t.false(h.isBlocked(0));
    t.deepEqual(h.onBarrier(0, 1, 10), []);
    t.deepEqual(h.onBarrier(0, 3, 30), [trigger(3)]);
    t.deepEqual(h.onBarrier(0, 2, 20), []);
    t.deepEqual(h.onCancel(0, 4), [abort(4, 'cancel-marker')]);
    t.deepEqual(h.onBarrier(0, 4, 40), []);
    t.deepEqual(h.onBarrier(0, 5, 50), [trigger(5)]);
    t.is(h.pendingCheckpoint, null);
  });
}

// ---- at-least-once (invariants 7, 8) ----

test('barrier tracker - never blocks and triggers when the barrier arrived on every channel (invariant 7)', (t) => {
  const h = new BarrierTracker(3);
  t.deepEqual(h.onBarrier(0, 1, 10), []);
  t.false(h.isBlocked(0));
  t.is(h.pendingCheckpoint, 1);
  // channel 0 may run ahead to the next checkpoint
  t.deepEqual(h.onBarrier(0, 2, 20), []);
  t.is(h.pendingCheckpoint, 2);
  t.deepEqual(h.onBarrier(1, 1, 10), []);
  t.deepEqual(h.onBarrier(2, 1, 10), [trigger(1)]);
  t.is(h.pendingCheckpoint, 2);
  t.deepEqual(h.onBarrier(2, 2, 20), []);
  t.deepEqual(h.onBarrier(1, 2, 20), [trigger(2)]);
  t.is(h.pendingCheckpoint, null);
});

test('barrier tracker - a newer checkpoint completing subsumes the older incomplete ones (invariant 8)', (t) => {
  const h = new BarrierTracker(2);
  h.onBarrier(0, 1, 10);
  h.onBarrier(0, 2, 20);
  t.deepEqual(h.onBarrier(1, 2, 20), [abort(1, 'subsumed'), trigger(2)]);
  t.deepEqual(h.onBarrier(1, 1, 10), []);
});

test('barrier tracker - a cancel marker aborts at once and later barriers of it never trigger (invariant 8)', (t) => {
  const h = new BarrierTracker(3);
  h.onBarrier(0, 1, 10);
  t.deepEqual(h.onCancel(1, 1), [abort(1, 'cancel-marker')]);
  t.deepEqual(h.onBarrier(2, 1, 10), []);
  t.is(h.pendingCheckpoint, null);
  t.deepEqual(h.onCancel(0, 2), [abort(2, 'cancel-marker')]);
  t.deepEqual(h.onBarrier(1, 2, 20), []);
  t.deepEqual(h.onBarrier(2, 2, 20), []);
  t.deepEqual(h.onBarrier(0, 3, 30), []);
});

test('barrier tracker - a second marker of one checkpoint on one channel is a protocol violation', (t) => {
  const h = new BarrierTracker(2);
  h.onBarrier(0, 1, 10);
  violation(t, () => h.onBarrier(0, 1, 10), /already delivered/);
  violation(t, () => h.onCancel(0, 1), /already delivered/);
});

test('barrier tracker - ended channels count as arrived, also for checkpoints already pending (invariant 7)', (t) => {
  const h = new BarrierTracker(3);
  h.onBarrier(0, 1, 10);
  h.onBarrier(0, 2, 20);
  h.onBarrier(1, 1, 10);
  t.deepEqual(h.onEndOfPartition(2), [trigger(1)]);
  t.deepEqual(h.onEndOfPartition(1), [trigger(2)]);
  t.deepEqual(h.onBarrier(0, 3, 30), [trigger(3)]);
});

test('barrier tracker - at most maxPending checkpoints are tracked, the oldest is given up (invariant 8)', (t) => {
  const h = new BarrierTracker(2, 2);
  t.deepEqual(h.onBarrier(0, 1, 10), []);
  t.deepEqual(h.onBarrier(0, 2, 20), []);
  t.deepEqual(h.onBarrier(0, 3, 30), [abort(1, 'too-many-pending')]);
  t.deepEqual(h.onBarrier(1, 1, 10), []);
  t.deepEqual(h.onBarrier(1, 2, 20), [trigger(2)]);
});

test('barrier tracker - abort() gives up a pending checkpoint once and fences a future one (invariant 8)', (t) => {
  const h = new BarrierTracker(2);
  h.onBarrier(0, 1, 10);
  t.deepEqual(h.abort(1), [abort(1, 'external')]);
  t.deepEqual(h.abort(1), []);
  t.deepEqual(h.onBarrier(1, 1, 10), []);
  t.deepEqual(h.abort(5), []);
  t.deepEqual(h.onBarrier(0, 5, 50), []);
  t.deepEqual(h.onBarrier(0, 6, 60), []);
  t.deepEqual(h.onBarrier(1, 6, 60), [trigger(6)]);
});

test('barrier tracker - events after end-of-partition are protocol violations', (t) => {
  const h = new BarrierTracker(2);
  h.onEndOfPartition(1);
  violation(t, () => h.onBarrier(1, 1, 0), /after its end-of-partition/);
  violation(t, () => h.onEndOfPartition(1), /after its end-of-partition/);
});

// ---- model-based: random channel streams, random scheduling ----

type Item = { readonly record: number } | { readonly event: NetworkEvent };

interface Scenario {
  readonly channels: Item[][];
  readonly checkpoints: number;
}

/**
 * Each channel's upstream emits records and, for each checkpoint 1..K in order, a barrier, a cancel
 * marker, or nothing (it had declined or missed it); some channels end early. Every stream ends
 * with end-of-partition.
 */
function scenario(rng: Rng): Scenario {
  const n = rng.int(1, 4);
  const checkpoints = rng.int(1, 8);
  const channels: Item[][] = [];
  for (let c = 0; c < n; c++) {
    const items: Item[] = [];
    let record = 0;
    const records = (): void => {
      for (let k = rng.int(0, 3); k > 0; k--) items.push({ record: record++ });
    };
    for (let id = 1; id <= checkpoints; id++) {
      records();
      if (rng.chance(0.05)) break; // ends early
      const roll = rng.next();
      if (roll < 0.8) items.push({ event: { kind: 'checkpoint-barrier', checkpointId: id, timestamp: id * 10 } });
      else if (roll < 0.9) items.push({ event: { kind: 'cancel-checkpoint', checkpointId: id } });
    }
    records();
    items.push({ event: { kind: 'end-of-partition' } });
    channels.push(items);
  }
  return { channels, checkpoints };
}

const markerId = (item: Item): number | null => ('event' in item && item.event.kind !== 'end-of-partition' && item.event.kind !== 'watermark' ? item.event.checkpointId : null);
const hasBarrier = (items: Item[], id: number): boolean => items.some((i) => 'event' in i && i.event.kind === 'checkpoint-barrier' && i.event.checkpointId === id);

/** Records of a channel in front of its barrier `id`, or all of them when it has none. */
function recordsBefore(items: Item[], id: number): number {
  let n = 0;
  for (const item of items) {
    if ('record' in item) n++;
    else if (item.event.kind === 'checkpoint-barrier' && item.event.checkpointId === id) return n;
  }
  return n;
}

interface Outcome {
  readonly triggered: number[];
  readonly aborted: number[];
}

/** Drives a handler like a task would; throws (with the seed in the message) on any violation. */
function simulate(mode: CheckpointingMode, s: Scenario, rng: Rng, externalAborts: boolean): Outcome {
  const h: BarrierHandler = createBarrierHandler(mode, s.channels.length);
  const pos = s.channels.map(() => 0);
  const processed = s.channels.map(() => 0);
  const ended = s.channels.map(() => false);
  /** The checkpoint a channel was told to block for, if any. */
  const blockedFor: (number | null)[] = s.channels.map(() => null);
  const decided = new Map<number, 'trigger' | 'abort'>();
  const triggered: number[] = [];
  const aborted: number[] = [];
  let lastDecided = -1;
  const fail = (message: string): never => {
    throw new Error(`${mode}: ${message}`);
  };

  const apply = (effects: BarrierEffect[]): void => {
    const decidedHere = new Set<number>();
    for (const e of effects) {
      switch (e.type) {
        case 'block':
          if (mode === 'at-least-once') fail('at-least-once blocked a channel');
          if (blockedFor[e.channel] !== null) fail(`channel ${e.channel} blocked twice`);
          blockedFor[e.channel] = e.checkpointId;
          break;
        case 'release':
          for (const c of e.channels) {
            const id = blockedFor[c];
            if (id === null || id === undefined) fail(`channel ${c} released but not blocked`);
            // a blocked channel's records come back only after its checkpoint was decided in this very step
            if (!decidedHere.has(id!)) fail(`channel ${c} released before checkpoint ${id} triggered or aborted`);
            blockedFor[c] = null;
          }
          break;
        case 'trigger-snapshot':
        case 'abort': {
          const id = e.checkpointId;
          if (decided.has(id)) fail(`checkpoint ${id} decided twice (${decided.get(id)} then ${e.type})`);
          if (id <= lastDecided && e.type === 'trigger-snapshot') fail(`checkpoint ${id} triggered after ${lastDecided}`);
          decided.set(id, e.type === 'abort' ? 'abort' : 'trigger');
          decidedHere.add(id);
          if (e.type === 'abort') {
            aborted.push(id);
            break;
          }
          lastDecided = id;
          triggered.push(id);
          for (let c = 0; c < s.channels.length; c++) {
            const items = s.channels[c]!;
            const expected = ended[c] ? items.filter((i) => 'record' in i).length : recordsBefore(items, id);
            if (!ended[c] && !hasBarrier(items, id)) fail(`checkpoint ${id} triggered though channel ${c} neither ended nor has its barrier`);
            if (mode === 'exactly-once' && processed[c] !== expected) fail(`snapshot ${id}: channel ${c} processed ${processed[c]} records, exactly ${expected} are in front of the barrier`);
            if (mode === 'at-least-once' && processed[c]! < expected) fail(`snapshot ${id}: channel ${c} processed ${processed[c]} records, ${expected} are in front of the barrier`);
          }
          break;
        }
      }
    }
    for (let c = 0; c < s.channels.length; c++) {
      if (h.isBlocked(c) !== (blockedFor[c] !== null)) fail(`channel ${c}: isBlocked ${h.isBlocked(c)} disagrees with the effects`);
    }
  };

  for (;;) {
    const ready: number[] = [];
    let left = 0;
    for (let c = 0; c < s.channels.length; c++) {
      if (pos[c]! < s.channels[c]!.length) {
        left++;
        if (!h.isBlocked(c)) ready.push(c);
      }
    }
    if (left === 0) break;
    if (ready.length === 0) fail(`deadlock: ${left} channels have items, all blocked`);
    if (externalAborts && h.pendingCheckpoint !== null && rng.chance(0.05)) apply(h.abort(h.pendingCheckpoint));
    const c = rng.pick(ready);
    if (h.isBlocked(c)) continue;
    const item = s.channels[c]![pos[c]!++]!;
    if ('record' in item) {
      if (blockedFor[c] !== null) fail(`record of channel ${c} taken while it is blocked for ${blockedFor[c]}`);
      if (item.record !== processed[c]) fail('records out of order');
      processed[c]!++;
      continue;
    }
    if (item.event.kind === 'end-of-partition') ended[c] = true;
    apply(h.onEvent(c, item.event));
  }
  for (let c = 0; c < s.channels.length; c++) if (h.isBlocked(c)) fail(`channel ${c} still blocked at the end`);
  if (mode === 'exactly-once' && h.pendingCheckpoint !== null) fail(`checkpoint ${h.pendingCheckpoint} still aligning at the end`);
  return { triggered, aborted };
}

/** Exactly-once triggers n iff some channel carries barrier n and every channel carries it or no marker ≥ n. */
function shouldTrigger(s: Scenario, id: number): boolean {
  return s.channels.some((items) => hasBarrier(items, id)) && s.channels.every((items) => hasBarrier(items, id) || items.every((i) => (markerId(i) ?? -1) < id));
}

for (const mode of ['exactly-once', 'at-least-once'] as const) {
  test(`barrier handler ${mode} - random streams and schedules: exact snapshots, one decision per checkpoint, no deadlock (invariants 1-8)`, (t) => {
    for (let seed = 1; seed <= 1500; seed++) {
      const rng = seededRng(seed);
      const s = scenario(rng);
      let outcome: Outcome;
      try {
        outcome = simulate(mode, s, rng, false);
      } catch (error) {
        t.fail(`seed ${seed}: ${(error as Error).message}`);
        return;
      }
      for (let id = 1; id <= s.checkpoints; id++) {
        const everywhere = s.channels.every((items) => hasBarrier(items, id));
        const cancelled = s.channels.some((items) => items.some((i) => 'event' in i && i.event.kind === 'cancel-checkpoint' && i.event.checkpointId === id));
        const expected = mode === 'exactly-once' ? shouldTrigger(s, id) : everywhere ? true : cancelled ? false : undefined;
        if (expected !== undefined && outcome.triggered.includes(id) !== expected) {
          t.fail(`seed ${seed}: checkpoint ${id} ${expected ? 'should' : 'should not'} trigger (triggered ${JSON.stringify(outcome.triggered)})`);
          return;
        }
      }
    }
    t.pass();
  });

  test(`barrier handler ${mode} - random streams with aborts from outside stay exact and never deadlock (invariants 3-5, 8)`, (t) => {
    for (let seed = 1; seed <= 1500; seed++) {
      const rng = seededRng(seed * 7919);
      try {
        simulate(mode, scenario(rng), rng, true);
      } catch (error) {
        t.fail(`seed ${seed * 7919}: ${(error as Error).message}`);
        return;
      }
    }
    t.pass();
  });
}
