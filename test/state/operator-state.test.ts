/**
 * Operator list state and its split-redistribution (state/operator-state.ts):
 *  1. nothing is lost or duplicated: the new lists concatenate to the old ones, in order
 *  2. sizes differ by at most one; the first (total mod p) instances get the larger share, rotating across states
 *  3. snapshots share no array with the live state
 */
import test from 'ava';
import { decodeValue, encodeValue } from '../../actors/network/record-codec.js';
import { OperatorStateBackend, redistributeOperatorState, redistributeOperatorStateSnapshots, type OperatorStateSnapshot } from '../../state/operator-state.js';
import { seededRng } from '../helpers/prng.js';

test('operator list state - get is [] at first, then add/addAll/update/clear behave as a list', (t) => {
  const s = new OperatorStateBackend().getListState<string>('offsets');
  t.deepEqual(s.get(), []);
  s.add('a');
  s.addAll(['b', 'c']);
  t.deepEqual(s.get(), ['a', 'b', 'c']);
  s.update(['z']);
  t.deepEqual(s.get(), ['z']);
  s.clear();
  t.deepEqual(s.get(), []);
});

test('operator list state - get returns a copy', (t) => {
  const s = new OperatorStateBackend().getListState<number>('l');
  s.add(1);
  s.get().push(2);
  t.deepEqual(s.get(), [1]);
});

test('operator list state - an empty name is refused', (t) => {
  t.throws(() => new OperatorStateBackend().getListState(''), { code: 'TROUPE_INVALID_ARGUMENT' } as never);
});

test('operator state - snapshot through the codec and restore gives the same lists, sharing no array (invariant 3)', (t) => {
  const backend = new OperatorStateBackend();
  backend.getListState<{ split: number; offset: number }>('offsets').addAll([{ split: 0, offset: 10 }, { split: 3, offset: 7 }]);
  backend.getListState<string>('pending').add('txn-1');
  const snapshot = backend.snapshot();
  backend.getListState<string>('pending').add('txn-2');
  const restored = new OperatorStateBackend();
  restored.restore(decodeValue(encodeValue(snapshot)) as OperatorStateSnapshot);
  t.deepEqual(restored.getListState('offsets').get(), [{ split: 0, offset: 10 }, { split: 3, offset: 7 }]);
  t.deepEqual(restored.getListState('pending').get(), ['txn-1']);
  t.deepEqual(restored.names().sort(), ['offsets', 'pending']);
});

test('redistribute - 5 elements from 2 instances onto 3 give 2,2,1 in order (Flink split-distribute)', (t) => {
  t.deepEqual(redistributeOperatorState([[1, 2, 3], [4, 5]], 3), [[1, 2], [3, 4], [5]]);
});

test('redistribute - scaling in pools everything onto the remaining instances', (t) => {
  t.deepEqual(redistributeOperatorState([['a'], ['b', 'c'], [], ['d']], 1), [['a', 'b', 'c', 'd']]);
  t.deepEqual(redistributeOperatorState([['a'], ['b', 'c'], [], ['d']], 2), [['a', 'b'], ['c', 'd']]);
});

test('redistribute - fewer elements than instances leaves the last instances empty', (t) => {
  t.deepEqual(redistributeOperatorState([[1], [2]], 4), [[1], [2], [], []]);
  t.deepEqual(redistributeOperatorState([], 2), [[], []]);
});

test('redistribute - a non-positive or fractional parallelism is refused', (t) => {
  for (const p of [0, -1, 1.5, NaN]) t.throws(() => redistributeOperatorState([[1]], p), { code: 'TROUPE_INVALID_ARGUMENT' } as never);
});

test('redistribute - random inputs: order kept, nothing lost, sizes within one, larger shares first (invariants 1, 2)', (t) => {
  const seed = 4242;
  const rng = seededRng(seed);
  for (let round = 0; round < 500; round++) {
    const states = Array.from({ length: rng.int(1, 8) }, () => Array.from({ length: rng.int(0, 12) }, () => rng.int(0, 1e6)));
    const p = rng.int(1, 10);
    const out = redistributeOperatorState(states, p);
    const all = states.flat();
    const sizes = out.map((l) => l.length);
    const larger = all.length % p;
    const base = Math.floor(all.length / p);
    const expectedSizes = Array.from({ length: p }, (_, i) => (i < larger ? base + 1 : base));
    if (out.length !== p || JSON.stringify(out.flat()) !== JSON.stringify(all) || JSON.stringify(sizes) !== JSON.stringify(expectedSizes)) {
      t.fail(`seed ${seed} round ${round}: ${JSON.stringify(states)} onto ${p} gave ${JSON.stringify(out)}`);
      return;
    }
  }
  t.pass();
});

test('redistribute snapshots - each list is split by name and the extra elements rotate across lists', (t) => {
  const olds: OperatorStateSnapshot[] = [
    { lists: [{ name: 'a', elements: [1] }, { name: 'b', elements: ['x'] }] },
    { lists: [{ name: 'b', elements: ['y'] }, { name: 'c', elements: [true] }] },
  ];
  const out = redistributeOperatorStateSnapshots(olds, 3);
  const lists = out.map((s) => Object.fromEntries(s.lists.map((l) => [l.name, l.elements])));
  // a: 1 element -> instance 0; b: 2 elements -> instances 1, 2; c: 1 element -> instance 0 again (rotation wrapped)
  t.deepEqual(lists, [
    { a: [1], b: [], c: [true] },
    { a: [], b: ['x'], c: [] },
    { a: [], b: ['y'], c: [] },
  ]);
});

test('redistribute snapshots - every element of every list arrives exactly once', (t) => {
  const rng = seededRng(99);
  const olds: OperatorStateSnapshot[] = Array.from({ length: 4 }, (_, i) => ({
    lists: ['offsets', 'txns'].map((name) => ({ name, elements: Array.from({ length: rng.int(0, 9) }, (_, j) => `${name}-${i}-${j}`) })),
  }));
  for (const p of [1, 2, 3, 5, 8]) {
    const out = redistributeOperatorStateSnapshots(olds, p);
    t.is(out.length, p);
    for (const name of ['offsets', 'txns']) {
      const before = olds.flatMap((s) => s.lists.filter((l) => l.name === name).flatMap((l) => l.elements));
      const after = out.flatMap((s) => s.lists.filter((l) => l.name === name).flatMap((l) => l.elements));
      t.deepEqual(after, before, `${name} onto ${p}`);
    }
  }
});
