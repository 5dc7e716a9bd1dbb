/**
 * Keyed state is scoped to the current key and stored by key group (state/heap/heap-keyed-state-backend.ts
 * invariants 1 and 2; state/heap/state-table.ts invariant 1).
 */
import test from 'ava';
import { keyGroupFor, keyGroupRange } from '../../state/key-groups.js';
import { backendWith, MAX_P } from './backend-fixture.js';

const KEYS: unknown[] = ['a', 'b', 0, 1, -1, 2.5, true, false, 10n, [1, 'x'], { id: 1 }, { id: 2 }, new Date(0), '\u0000a', ''];

test('key scoping - every state kind under one name keeps one value per key, no bleed between keys', (t) => {
  const { backend } = backendWith();
  KEYS.forEach((key, i) => {
    backend.setCurrentKey(key);
    backend.getValueState<number>({ name: 'value' }).update(i);
    backend.getListState<number>({ name: 'list' }).addAll([i, i]);
    backend.getMapState<string, number>({ name: 'map' }).put('k', i);
    backend.getReducingState<number>({ name: 'reducing', reduceFunction: (a, b) => a + b }).add(i);
    backend.getAggregatingState({ name: 'agg', aggregateFunction: { createAccumulator: () => 100, add: (v: number, a: number) => a + v, getResult: (a: number) => a } }).add(i);
  });
  KEYS.forEach((key, i) => {
    backend.setCurrentKey(key);
    t.is(backend.getValueState<number>({ name: 'value' }).value(), i);
    t.deepEqual(backend.getListState<number>({ name: 'list' }).get(), [i, i]);
    t.deepEqual(backend.getMapState<string, number>({ name: 'map' }).entries(), [['k', i]]);
    t.is(backend.getReducingState<number>({ name: 'reducing', reduceFunction: (a, b) => a + b }).get(), i);
  });
  t.deepEqual(backend.sizes(), { value: KEYS.length, list: KEYS.length, map: KEYS.length, reducing: KEYS.length, agg: KEYS.length });
});

test('key scoping - equal keys share state: equal objects, 0 and -0, an equal array', (t) => {
  const { backend } = backendWith();
  const s = backend.getValueState<string>({ name: 'v' });
  backend.setCurrentKey({ a: 1, b: [2] });
  s.update('x');
  backend.setCurrentKey({ b: [2], a: 1 });
  t.is(s.value(), 'x');
  backend.setCurrentKey(-0);
  s.update('zero');
  backend.setCurrentKey(0);
  t.is(s.value(), 'zero');
});

test('key scoping - two names under one key never alias', (t) => {
  const { backend } = backendWith();
  backend.setCurrentKey('k');
  backend.getValueState<number>({ name: 'a' }).update(1);
  t.is(backend.getValueState<number>({ name: 'b' }).value(), undefined);
  backend.getListState<number>({ name: 'c' }).add(1);
  t.is(backend.getValueState<number>({ name: 'a' }).value(), 1);
});

test('key scoping - getCurrentKey returns the key as set', (t) => {
  const { backend } = backendWith();
  const key = { id: 7 };
  backend.setCurrentKey(key);
  t.is(backend.getCurrentKey(), key);
  t.is(backend.getCurrentKeyGroup(), keyGroupFor(key, MAX_P));
});

test('key-group scoping - a key outside the backend range is a TROUPE_PROTOCOL_VIOLATION and the current key stays', (t) => {
  const range = keyGroupRange(MAX_P, 3, 1);
  const { backend } = backendWith(range);
  let inside = 0;
  while (keyGroupFor(inside, MAX_P) < range.start || keyGroupFor(inside, MAX_P) > range.end) inside++;
  let outside = 0;
  while (keyGroupFor(outside, MAX_P) >= range.start && keyGroupFor(outside, MAX_P) <= range.end) outside++;
  backend.setCurrentKey(inside);
  t.throws(() => backend.setCurrentKey(outside), { code: 'TROUPE_PROTOCOL_VIOLATION' } as never);
  t.is(backend.getCurrentKey(), inside);
});

test('key-group scoping - entries() of a sub-range yields exactly the keys whose key group lies in it', (t) => {
  const { backend } = backendWith();
  const s = backend.getValueState<number>({ name: 'v' });
  for (let k = 0; k < 500; k++) {
    backend.setCurrentKey(k);
    s.update(k);
  }
  const sub = { start: 40, end: 70 };
  const got = [...backend.entries('v', sub)];
  const expected = Array.from({ length: 500 }, (_, k) => k).filter((k) => keyGroupFor(k, MAX_P) >= sub.start && keyGroupFor(k, MAX_P) <= sub.end);
  t.deepEqual(got.map((e) => e.key).sort((a, b) => (a as number) - (b as number)), expected);
  for (const e of got) {
    t.is(e.keyGroup, keyGroupFor(e.key, MAX_P));
    t.is(e.value, e.key);
  }
  const groups = got.map((e) => e.keyGroup);
  t.deepEqual(groups, [...groups].sort((a, b) => a - b), 'ascending key groups');
});

test('key-group scoping - entries() decodes object keys from their state keys', (t) => {
  const { backend } = backendWith();
  backend.setCurrentKey({ user: 'u', n: 5n });
  backend.getValueState<number>({ name: 'v' }).update(1);
  const [entry] = [...backend.entries('v')];
  t.deepEqual(entry?.key, { n: 5n, user: 'u' });
});

test('key-group scoping - entries() outside the backend range throws', (t) => {
  const { backend } = backendWith({ start: 10, end: 20 });
  t.throws(() => [...backend.entries('v', { start: 5, end: 15 })], { code: 'TROUPE_INVALID_ARGUMENT' } as never);
});

test('change tracking - writes mark their key group dirty, reads without TTL do not, mark() resets', (t) => {
  const { backend } = backendWith();
  const s = backend.getValueState<number>({ name: 'v' });
  backend.setCurrentKey('a');
  const ga = backend.getCurrentKeyGroup();
  s.update(1);
  backend.setCurrentKey('b');
  const gb = backend.getCurrentKeyGroup();
  s.value();
  t.deepEqual(backend.dirtyKeyGroups(), [ga]);
  backend.mark();
  t.deepEqual(backend.dirtyKeyGroups(), []);
  backend.setCurrentKey('a');
  s.clear();
  t.deepEqual(backend.dirtyKeyGroups(), [ga]);
  t.not(ga, gb);
});

test('change tracking - clearing absent state leaves the key group clean', (t) => {
  const { backend } = backendWith();
  backend.setCurrentKey('a');
  backend.getValueState<number>({ name: 'v' }).clear();
  backend.getMapState<string, number>({ name: 'm' }).remove('x');
  t.deepEqual(backend.dirtyKeyGroups(), []);
});

test('change tracking - an on-read-and-write TTL read is a change', (t) => {
  const { backend } = backendWith();
  backend.setCurrentKey('a');
  const s = backend.getValueState<number>({ name: 'v', ttl: { ttlMs: 100, updateType: 'on-read-and-write' } });
  s.update(1);
  backend.mark();
  s.value();
  t.deepEqual(backend.dirtyKeyGroups(), [backend.getCurrentKeyGroup()]);
});
