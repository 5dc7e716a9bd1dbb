import test from 'ava';
import { mapStateDescriptor } from '../../state/map-state.js';
import { backendWith } from './backend-fixture.js';

function map<K = string, V = number>() {
  const { backend } = backendWith();
  backend.setCurrentKey('k');
  return { backend, s: backend.getMapState(mapStateDescriptor<K, V>('m')) };
}

test('map state - get of a missing user key is undefined', (t) => {
  t.is(map().s.get('x'), undefined);
});

test('map state - put then get returns the value; put again overwrites', (t) => {
  const { s } = map();
  s.put('a', 1);
  t.is(s.get('a'), 1);
  s.put('a', 2);
  t.is(s.get('a'), 2);
});

test('map state - putAll takes a Map or entry pairs', (t) => {
  const { s } = map();
  s.putAll(new Map([['a', 1]]));
  s.putAll([['b', 2], ['c', 3]]);
  t.deepEqual(s.entries(), [['a', 1], ['b', 2], ['c', 3]]);
});

test('map state - remove, contains, isEmpty', (t) => {
  const { s } = map();
  t.true(s.isEmpty());
  s.put('a', 1);
  t.true(s.contains('a'));
  t.false(s.contains('b'));
  t.false(s.isEmpty());
  s.remove('a');
  s.remove('never there');
  t.false(s.contains('a'));
  t.true(s.isEmpty());
});

test('map state - entries, keys and values come in insertion order', (t) => {
  const { s } = map();
  s.put('b', 2);
  s.put('a', 1);
  s.put('b', 3);
  t.deepEqual(s.entries(), [['b', 3], ['a', 1]]);
  t.deepEqual(s.keys(), ['b', 'a']);
  t.deepEqual(s.values(), [3, 1]);
});

test('map state - clear() and removing the last entry leave no stored map', (t) => {
  const { backend, s } = map();
  s.put('a', 1);
  s.remove('a');
  t.deepEqual(backend.sizes(), { m: 0 });
  s.put('a', 1);
  s.clear();
  t.deepEqual(backend.sizes(), { m: 0 });
  t.deepEqual(s.entries(), []);
});

test('map state - an undefined value is a value: contains is true, get is undefined', (t) => {
  const { s } = map<string, number | undefined>();
  s.put('a', undefined);
  t.true(s.contains('a'));
  t.is(s.get('a'), undefined);
  t.deepEqual(s.entries(), [['a', undefined]]);
});

test('map state - user keys are identified by value: equal objects, 0 and -0 are one key', (t) => {
  const { s } = map<unknown, string>();
  s.put({ x: 1, y: [2, 3] }, 'object');
  s.put(-0, 'zero');
  t.is(s.get({ y: [2, 3], x: 1 }), 'object');
  t.is(s.get(0), 'zero');
  t.is(s.keys().length, 2);
});

test('map state - kinds of user key never collide ("1", 1, 1n, true, [1], Date(1))', (t) => {
  const { s } = map<unknown, number>();
  const keys: unknown[] = ['1', 1, 1n, true, [1], new Date(1), { 1: 1 }, '\u00001'];
  keys.forEach((k, i) => s.put(k, i));
  keys.forEach((k, i) => t.is(s.get(k), i));
  t.deepEqual(s.keys(), keys);
});

test('map state - keys() gives back equal copies of object, bigint and date keys', (t) => {
  const { s } = map<unknown, number>();
  const key = { when: new Date(5), big: 2n ** 70n, list: ['a', { b: false }] };
  s.put(key, 1);
  t.deepEqual(s.keys(), [key]);
});

test('map state - a user key that cannot be a record key is refused with TROUPE_KEY_NOT_SERIALIZABLE naming the state', (t) => {
  const { s } = map<unknown, number>();
  for (const bad of [NaN, Symbol('s'), () => 1, null, undefined, new Map()]) {
    t.throws(() => s.put(bad, 1), { code: 'TROUPE_KEY_NOT_SERIALIZABLE', message: /^MapState 'm' got the user key / } as never);
  }
  t.true(s.isEmpty());
});

test('map state - the arrays entries() returns are snapshots, safe to modify the state while walking', (t) => {
  const { s } = map();
  s.putAll([['a', 1], ['b', 2]]);
  for (const [k] of s.entries()) s.remove(k);
  t.true(s.isEmpty());
});
