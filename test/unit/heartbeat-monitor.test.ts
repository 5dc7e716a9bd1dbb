/**
 * HeartbeatMonitor (actors/resource-manager/heartbeat-monitor.ts). Invariants cited from the module header:
 *  1. every intervalMs each monitored target is sent one heartbeat request
 *  2. a target is lost once timeoutMs passed since its last heartbeat (or since it was added),
 *     reported lost exactly once, then no longer monitored
 *  3. a heartbeat from a target that is not monitored is ignored
 * HeartbeatTick.lost: targets silent for *longer than* the timeout.
 */
import test from 'ava';
import { HeartbeatMonitor, type HeartbeatTick } from '../../actors/resource-manager/heartbeat-monitor.js';

const INTERVAL = 10;
/** Spans three intervals (and a half): three missed heartbeats are survivable, four are not. */
const TIMEOUT = 35;

const lostTargets = <K>(tick: HeartbeatTick<K>): K[] => tick.lost.map((l) => l.target);

/**
 * Drives one target through ticks 0, 1, 2, … (tick k at k × INTERVAL). The target answers each
 * request one ms later unless the tick is in `drop`, and never answers after `lastAnswer`.
 * Returns the tick at which it was reported lost (or null) and how often it was reported.
 */
function script(opts: { ticks: number; drop?: readonly number[]; lastAnswer?: number }): { lostAt: number | null; reports: number; silentMs: number | null } {
  const m = new HeartbeatMonitor<string>(INTERVAL, TIMEOUT);
  m.add('te', 0);
  let lostAt: number | null = null;
  let reports = 0;
  let silentMs: number | null = null;
  for (let k = 0; k <= opts.ticks; k++) {
    const now = k * INTERVAL;
    const tick = m.tick(now);
    for (const l of tick.lost) {
      reports++;
      lostAt ??= k;
      silentMs ??= l.silentMs;
    }
    const answers = k >= 1 && !(opts.drop ?? []).includes(k) && k <= (opts.lastAnswer ?? Infinity);
    if (tick.request.includes('te') && answers) m.received('te', now + 1);
  }
  return { lostAt, reports, silentMs };
}

// ---- construction ----

test('heartbeat monitor - the constructor rejects a timeout equal to the interval', (t) => {
  t.throws(() => new HeartbeatMonitor(10, 10), { instanceOf: RangeError });
});

test('heartbeat monitor - the constructor rejects a timeout shorter than the interval', (t) => {
  t.throws(() => new HeartbeatMonitor(10, 5), { instanceOf: RangeError });
});

test('heartbeat monitor - the constructor rejects a non-positive or NaN interval', (t) => {
  t.throws(() => new HeartbeatMonitor(0, 10), { instanceOf: RangeError });
  t.throws(() => new HeartbeatMonitor(-5, 10), { instanceOf: RangeError });
  t.throws(() => new HeartbeatMonitor(Number.NaN, 10), { instanceOf: RangeError });
  t.throws(() => new HeartbeatMonitor(10, Number.NaN), { instanceOf: RangeError });
});

test('heartbeat monitor - the constructor accepts a timeout just above the interval', (t) => {
  const m = new HeartbeatMonitor(10, 11);
  t.is(m.intervalMs, 10);
  t.is(m.timeoutMs, 11);
});

// ---- requests (invariant 1) ----

test('heartbeat monitor - the first tick requests a heartbeat from every target (invariant 1)', (t) => {
  const m = new HeartbeatMonitor<string>(INTERVAL, TIMEOUT);
  m.add('a', 0);
  m.add('b', 0);
  t.deepEqual(m.tick(0), { request: ['a', 'b'], lost: [] });
});

test('heartbeat monitor - requests go out once every interval, not on the ticks in between (invariant 1)', (t) => {
  const m = new HeartbeatMonitor<string>(INTERVAL, TIMEOUT);
  m.add('a', 0);
  const requestedAt: number[] = [];
  for (let now = 0; now <= 100; now++) {
    const tick = m.tick(now);
    if (tick.request.length > 0) {
      t.deepEqual(tick.request, ['a']);
      requestedAt.push(now);
    }
    m.received('a', now); // keep it alive
  }
  t.deepEqual(requestedAt, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
});

test('heartbeat monitor - with sparse ticks the interval counts from the last request (invariant 1)', (t) => {
  const m = new HeartbeatMonitor<string>(INTERVAL, TIMEOUT);
  m.add('a', 0);
  t.deepEqual(m.tick(0).request, ['a']);
  m.received('a', 12);
  t.deepEqual(m.tick(12).request, ['a']);
  m.received('a', 21);
  t.deepEqual(m.tick(21).request, []); // 9 ms after the last request
  t.deepEqual(m.tick(22).request, ['a']);
});

test('heartbeat monitor - a target added between requests is asked at the next interval (invariant 1)', (t) => {
  const m = new HeartbeatMonitor<string>(INTERVAL, TIMEOUT);
  m.add('a', 0);
  m.tick(0);
  m.add('b', 4);
  t.deepEqual(m.tick(5).request, []);
  t.deepEqual(m.tick(10).request, ['a', 'b']);
});

test('heartbeat monitor - no target, no request', (t) => {
  const m = new HeartbeatMonitor<string>(INTERVAL, TIMEOUT);
  t.deepEqual(m.tick(0), { request: [], lost: [] });
  t.deepEqual(m.tick(100), { request: [], lost: [] });
});

// ---- loss (invariant 2) ----

test('heartbeat monitor - a silent target is not lost before the timeout (invariant 2)', (t) => {
  const m = new HeartbeatMonitor<string>(INTERVAL, TIMEOUT);
  m.add('a', 0);
  for (let now = 0; now <= TIMEOUT; now++) t.deepEqual(m.tick(now).lost, [], `at ${now}`);
  t.true(m.has('a'));
});

test('heartbeat monitor - a target silent for exactly the timeout is not yet lost (longer than the timeout) (invariant 2)', (t) => {
  const m = new HeartbeatMonitor<string>(INTERVAL, TIMEOUT);
  m.add('a', 100);
  t.deepEqual(m.tick(100 + TIMEOUT).lost, []);
  t.deepEqual(m.tick(100 + TIMEOUT + 1).lost, [{ target: 'a', silentMs: TIMEOUT + 1 }]);
});

test('heartbeat monitor - a silent target is lost once, after the timeout (invariant 2)', (t) => {
  const m = new HeartbeatMonitor<string>(INTERVAL, TIMEOUT);
  m.add('a', 0);
  const reports: Array<{ now: number; silentMs: number }> = [];
  for (let now = 0; now <= 200; now++) for (const l of m.tick(now).lost) reports.push({ now, silentMs: l.silentMs });
  t.deepEqual(reports, [{ now: TIMEOUT + 1, silentMs: TIMEOUT + 1 }]);
});

test('heartbeat monitor - a lost target is no longer monitored nor sent requests (invariant 2)', (t) => {
  const m = new HeartbeatMonitor<string>(INTERVAL, TIMEOUT);
  m.add('a', 0);
  m.add('b', 0);
  m.received('b', 30);
  t.deepEqual(lostTargets(m.tick(40)), ['a']);
  t.false(m.has('a'));
  t.true(m.has('b'));
  m.received('b', 50);
  t.deepEqual(m.tick(50), { request: ['b'], lost: [] });
});

test('heartbeat monitor - silence is measured from the add when no heartbeat came yet (invariant 2)', (t) => {
  const m = new HeartbeatMonitor<string>(INTERVAL, TIMEOUT);
  m.add('late', 50);
  t.deepEqual(m.tick(50 + TIMEOUT).lost, []);
  t.deepEqual(m.tick(50 + TIMEOUT + 5).lost, [{ target: 'late', silentMs: TIMEOUT + 5 }]);
});

test('heartbeat monitor - a silent target is lost while a heartbeating one stays (invariant 2)', (t) => {
  const m = new HeartbeatMonitor<string>(INTERVAL, TIMEOUT);
  m.add('alive', 0);
  m.add('silent', 0);
  const lost: Array<[number, string]> = [];
  for (let now = 0; now <= 300; now += 5) {
    for (const target of lostTargets(m.tick(now))) lost.push([now, target]);
    m.received('alive', now);
  }
  t.deepEqual(lost, [[40, 'silent']]);
  t.true(m.has('alive'));
});

// ---- heartbeats keep a target alive ----

test('heartbeat monitor - heartbeats every interval keep a target alive indefinitely (invariant 2)', (t) => {
  const r = script({ ticks: 1000 });
  t.deepEqual(r, { lostAt: null, reports: 0, silentMs: null });
});

test('heartbeat monitor - a heartbeat restarts the silence count (invariant 2)', (t) => {
  const m = new HeartbeatMonitor<string>(INTERVAL, TIMEOUT);
  m.add('a', 0);
  m.received('a', 30);
  t.deepEqual(m.tick(60).lost, []); // 30 ms since the heartbeat, 60 since the add
  t.deepEqual(m.tick(66).lost, [{ target: 'a', silentMs: 36 }]);
});

test('heartbeat monitor - a heartbeat stamped earlier than the last one does not move the last-seen time back', (t) => {
  const m = new HeartbeatMonitor<string>(INTERVAL, TIMEOUT);
  m.add('a', 0);
  m.received('a', 30);
  m.received('a', 5); // reordered delivery
  t.deepEqual(m.tick(60).lost, []);
});

// ---- scripted drops (invariant 2) ----

test('heartbeat monitor - heartbeats at ticks 1, 2, 3 and then none: lost at tick 7, not before (invariant 2)', (t) => {
  // last heartbeat at 31; tick 6 (60) is 29 ms later, tick 7 (70) is 39 > 35
  t.deepEqual(script({ ticks: 20, lastAnswer: 3 }), { lostAt: 7, reports: 1, silentMs: 39 });
});

test('heartbeat monitor - two dropped heartbeats (ticks 4, 5) within a timeout of 3 intervals are survived (invariant 2)', (t) => {
  t.deepEqual(script({ ticks: 20, drop: [4, 5] }), { lostAt: null, reports: 0, silentMs: null });
});

test('heartbeat monitor - three dropped heartbeats (ticks 4, 5, 6) are not survived: lost at tick 7 (invariant 2)', (t) => {
  t.deepEqual(script({ ticks: 20, drop: [4, 5, 6] }), { lostAt: 7, reports: 1, silentMs: 39 });
});

test('heartbeat monitor - a target that never answers is lost at tick 4, the first tick more than the timeout after its add (invariant 2)', (t) => {
  t.deepEqual(script({ ticks: 20, lastAnswer: 0 }), { lostAt: 4, reports: 1, silentMs: 40 });
});

test('heartbeat monitor - separated drops of two never add up to a loss (invariant 2)', (t) => {
  t.deepEqual(script({ ticks: 30, drop: [2, 3, 6, 7, 10, 11, 14, 15] }), { lostAt: null, reports: 0, silentMs: null });
});

// ---- unknown and removed targets (invariant 3) ----

test('heartbeat monitor - a heartbeat from an unknown target is ignored (invariant 3)', (t) => {
  const m = new HeartbeatMonitor<string>(INTERVAL, TIMEOUT);
  m.received('ghost', 5);
  t.false(m.has('ghost'));
  t.deepEqual(m.tick(10), { request: [], lost: [] });
  t.deepEqual(m.tick(100), { request: [], lost: [] });
});

test('heartbeat monitor - a removed target is neither requested nor reported lost (invariant 3)', (t) => {
  const m = new HeartbeatMonitor<string>(INTERVAL, TIMEOUT);
  m.add('a', 0);
  m.add('b', 0);
  m.remove('a');
  t.false(m.has('a'));
  m.received('a', 20); // late heartbeat of the removed target
  t.false(m.has('a'));
  t.deepEqual(m.tick(20).request, ['b']);
  const ticks: HeartbeatTick<string>[] = [];
  for (let now = 21; now <= 200; now++) ticks.push(m.tick(now));
  t.false(ticks.some((tk) => tk.request.includes('a') || tk.lost.some((l) => l.target === 'a')));
});

test('heartbeat monitor - a heartbeat from a target already reported lost does not revive it (invariant 3)', (t) => {
  const m = new HeartbeatMonitor<string>(INTERVAL, TIMEOUT);
  m.add('a', 0);
  t.deepEqual(lostTargets(m.tick(40)), ['a']);
  m.received('a', 41);
  t.false(m.has('a'));
  t.deepEqual(m.tick(50), { request: [], lost: [] });
  t.deepEqual(m.tick(200), { request: [], lost: [] });
});

test('heartbeat monitor - a lost target added again is monitored afresh', (t) => {
  const m = new HeartbeatMonitor<string>(INTERVAL, TIMEOUT);
  m.add('a', 0);
  t.deepEqual(lostTargets(m.tick(40)), ['a']);
  m.add('a', 45);
  t.deepEqual(m.tick(50), { request: ['a'], lost: [] });
  t.deepEqual(m.tick(80).lost, []);
  t.deepEqual(lostTargets(m.tick(81)), ['a']);
});
