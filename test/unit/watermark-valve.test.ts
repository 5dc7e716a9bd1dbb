/**
 * WatermarkValve (actors/network/watermark-valve.ts). Invariants cited from the module header:
 *  1. the task's watermark is the minimum over channels that have not ended; a channel without a
 *     watermark yet holds it at -Infinity
 *  2. a channel's watermark never goes back (a lower one is ignored)
 *  3. the output only advances and is reported only when it advances; once every channel ended,
 *     nothing more is reported
 */
import test from 'ava';
import { WatermarkValve } from '../../actors/network/watermark-valve.js';
import { seededRng } from '../helpers/prng.js';

// ---- minimum over channels (invariant 1) ----

test('watermark valve - a new valve reports -Infinity as its current watermark', (t) => {
  t.is(new WatermarkValve(3).current, -Infinity);
});

test('watermark valve - nothing is reported while any channel has sent no watermark (invariant 1)', (t) => {
  const v = new WatermarkValve(3);
  t.is(v.onWatermark(0, 10), null);
  t.is(v.onWatermark(1, 20), null);
  t.is(v.current, -Infinity);
  t.is(v.onWatermark(2, 5), 5);
  t.is(v.current, 5);
});

test('watermark valve - the output is the minimum over the channels (invariant 1)', (t) => {
  const v = new WatermarkValve(2);
  v.onWatermark(0, 10);
  t.is(v.onWatermark(1, 30), 10);
  t.is(v.onWatermark(0, 40), 30);
  t.is(v.current, 30);
});

test('watermark valve - a single channel passes every increasing watermark through (invariant 1)', (t) => {
  const v = new WatermarkValve(1);
  t.deepEqual(
    [1, 2, 5, 100].map((ts) => v.onWatermark(0, ts)),
    [1, 2, 5, 100],
  );
});

test('watermark valve - raising a channel that is not the minimum reports nothing (invariant 1)', (t) => {
  const v = new WatermarkValve(2);
  v.onWatermark(0, 10);
  v.onWatermark(1, 20);
  t.is(v.onWatermark(1, 50), null);
  t.is(v.current, 10);
});

test('watermark valve - negative and fractional timestamps are ordinary watermarks (invariant 1)', (t) => {
  const v = new WatermarkValve(2);
  v.onWatermark(0, -5.5);
  t.is(v.onWatermark(1, -2), -5.5);
  t.is(v.onWatermark(0, 0.25), -2);
});

// ---- never back (invariant 2) ----

test('watermark valve - a lower watermark on a channel is ignored (invariant 2)', (t) => {
  const v = new WatermarkValve(2);
  v.onWatermark(0, 10);
  v.onWatermark(1, 20);
  t.is(v.onWatermark(0, 3), null);
  t.is(v.current, 10);
  // the channel still stands at 10, not 3: raising the other channel does not drop to 3
  t.is(v.onWatermark(1, 25), null);
  t.is(v.onWatermark(0, 12), 12);
});

test('watermark valve - a repeated watermark on a channel reports nothing (invariant 2)', (t) => {
  const v = new WatermarkValve(1);
  t.is(v.onWatermark(0, 7), 7);
  t.is(v.onWatermark(0, 7), null);
  t.is(v.current, 7);
});

test('watermark valve - the output never goes back, whatever arrives (invariant 3)', (t) => {
  const v = new WatermarkValve(3);
  const seen: number[] = [];
  const record = (r: number | null): void => {
    if (r !== null) seen.push(r);
  };
  record(v.onWatermark(0, 10));
  record(v.onWatermark(1, 10));
  record(v.onWatermark(2, 10));
  record(v.onWatermark(2, 1));
  record(v.onWatermark(0, 30));
  record(v.onWatermark(1, 2));
  record(v.onWatermark(1, 20));
  record(v.onWatermark(2, 40));
  t.deepEqual(seen, [10, 20]);
  t.is(v.current, 20);
});

// ---- only advances reported (invariant 3) ----

test('watermark valve - only advances are reported: a minimum that stays is null (invariant 3)', (t) => {
  const v = new WatermarkValve(3);
  v.onWatermark(0, 10);
  v.onWatermark(1, 10);
  t.is(v.onWatermark(2, 10), 10);
  t.is(v.onWatermark(0, 20), null); // channels 1 and 2 still at 10
  t.is(v.onWatermark(1, 20), null); // channel 2 still at 10
  t.is(v.onWatermark(2, 15), 15);
});

// ---- ended channels ----

test('watermark valve - an ended channel no longer holds the watermark back (invariant 1)', (t) => {
  const v = new WatermarkValve(2);
  v.onWatermark(0, 50);
  t.is(v.onWatermark(1, 10), 10);
  t.is(v.onChannelEnded(1), 50);
  t.is(v.current, 50);
});

test('watermark valve - a channel that ended without any watermark releases the others (invariant 1)', (t) => {
  const v = new WatermarkValve(2);
  t.is(v.onWatermark(0, 8), null);
  t.is(v.onChannelEnded(1), 8);
});

test('watermark valve - ending a channel that is not the minimum reports nothing (invariant 3)', (t) => {
  const v = new WatermarkValve(3);
  v.onWatermark(0, 5);
  v.onWatermark(1, 50);
  v.onWatermark(2, 60);
  t.is(v.onChannelEnded(2), null);
  t.is(v.current, 5);
  t.is(v.onChannelEnded(0), 50);
});

test('watermark valve - a watermark on an ended channel is ignored (invariant 1)', (t) => {
  const v = new WatermarkValve(2);
  v.onChannelEnded(0);
  t.is(v.onWatermark(0, 100), null);
  t.is(v.onWatermark(1, 10), 10);
  t.is(v.onWatermark(0, 200), null);
  t.is(v.current, 10);
});

test('watermark valve - ending a channel twice reports nothing the second time', (t) => {
  const v = new WatermarkValve(2);
  v.onWatermark(0, 5);
  v.onWatermark(1, 9);
  t.is(v.onChannelEnded(0), 9);
  t.is(v.onChannelEnded(0), null);
  t.is(v.current, 9);
});

test('watermark valve - when every channel ended nothing is reported (invariant 3)', (t) => {
  const v = new WatermarkValve(2);
  v.onWatermark(0, 10);
  t.is(v.onWatermark(1, 3), 3);
  t.is(v.onChannelEnded(1), 10);
  t.is(v.onChannelEnded(0), null);
  t.is(v.current, 10);
});

test('watermark valve - all channels ending without watermarks report nothing (invariant 3)', (t) => {
  const v = new WatermarkValve(3);
  t.is(v.onChannelEnded(0), null);
  t.is(v.onChannelEnded(1), null);
  t.is(v.onChannelEnded(2), null);
  t.is(v.current, -Infinity);
});

test('watermark valve - the last channel ending while holding the minimum reports null, not its own watermark (invariant 3)', (t) => {
  const v = new WatermarkValve(2);
  v.onChannelEnded(0);
  t.is(v.onWatermark(1, 4), 4);
  t.is(v.onChannelEnded(1), null);
  t.is(v.onWatermark(1, 99), null);
});

// ---- randomized: invariants 1–3 against a reference ----

class ReferenceValve {
  private readonly marks: number[];
  private readonly ended: boolean[];
  current = -Infinity;
  constructor(n: number) {
    this.marks = new Array<number>(n).fill(-Infinity);
    this.ended = new Array<boolean>(n).fill(false);
  }
  watermark(ch: number, ts: number): number | null {
    if (!this.ended[ch]) this.marks[ch] = Math.max(this.marks[ch]!, ts);
    return this.output();
  }
  end(ch: number): number | null {
    this.ended[ch] = true;
    return this.output();
  }
  private output(): number | null {
    const open = this.marks.filter((_, i) => !this.ended[i]);
    if (open.length === 0) return null;
    const min = Math.min(...open);
    if (min <= this.current) return null;
    this.current = min;
    return min;
  }
}

test('watermark valve - randomized: every report equals the reference min-over-open-channels (invariants 1, 2 and 3)', (t) => {
  let reports = 0;
  let endReleases = 0;
  for (let seed = 1; seed <= 300; seed++) {
    const rng = seededRng(seed);
    const n = rng.int(1, 6);
    const valve = new WatermarkValve(n);
    const ref = new ReferenceValve(n);
    const clocks = new Array<number>(n).fill(0);
    const steps = rng.int(1, 200);
    let last = -Infinity;
    for (let step = 0; step < steps; step++) {
      const ch = rng.int(0, n - 1);
      let got: number | null;
      let want: number | null;
      let op: string;
      if (rng.chance(0.04)) {
        op = `end(${ch})`;
        got = valve.onChannelEnded(ch);
        want = ref.end(ch);
        if (got !== null) endReleases++;
      } else {
        // mostly forward, sometimes behind (must be ignored), sometimes equal
        const ts = clocks[ch]! + rng.int(-5, 20);
        clocks[ch] = ts;
        op = `watermark(${ch}, ${ts})`;
        got = valve.onWatermark(ch, ts);
        want = ref.watermark(ch, ts);
      }
      if (got !== want) {
        t.fail(`seed ${seed} step ${step} ${op}: got ${got}, reference ${want}`);
        return;
      }
      if (got !== null) {
        reports++;
        if (!(got > last)) {
          t.fail(`seed ${seed} step ${step}: reported ${got} after ${last}`);
          return;
        }
        last = got;
      }
      if (valve.current !== ref.current) {
        t.fail(`seed ${seed} step ${step}: current ${valve.current}, reference ${ref.current}`);
        return;
      }
    }
  }
  t.true(reports > 1000, `only ${reports} reports`);
  t.true(endReleases > 10, `only ${endReleases} watermarks released by an ended channel`);
});
