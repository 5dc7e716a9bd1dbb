import test from 'ava';
import type { AggregateFunction } from '../../api/datastream/functions.js';
import { aggregatingStateDescriptor } from '../../state/aggregating-state.js';
import { reducingStateDescriptor } from '../../state/reducing-state.js';
import { backendWith } from './backend-fixture.js';

const average: AggregateFunction<number, { sum: number; n: number }, number> = {
  createAccumulator: () => ({ sum: 0, n: 0 }),
  add: (v, acc) => ({ sum: acc.sum + v, n: acc.n + 1 }),
  getResult: (acc) => acc.sum / acc.n,
  merge: (a, b) => ({ sum: a.sum + b.sum, n: a.n + b.n }),
};

test('reducing state - get() is undefined before the first add', (t) => {
  const { backend } = backendWith();
  backend.setCurrentKey('k');
  t.is(backend.getReducingState(reducingStateDescriptor<number>('r', (a, b) => a + b)).get(), undefined);
});

test('reducing state - the first add is stored as is and later adds fold as reduce(accumulated, value)', (t) => {
  const { backend } = backendWith();
  backend.setCurrentKey('k');
  const calls: Array<[string, string]> = [];
  const s = backend.getReducingState(
    reducingStateDescriptor<string>('r', (acc, v) => {
      calls.push([acc, v]);
      return acc + v;
    }),
  );
  s.add('a');
  s.add('b');
  s.add('c');
  t.is(s.get(), 'abc');
  t.deepEqual(calls, [['a', 'b'], ['ab', 'c']]);
});

test('reducing state - clear() starts the fold over', (t) => {
  const { backend } = backendWith();
  backend.setCurrentKey('k');
  const s = backend.getReducingState<number>({ name: 'r', reduceFunction: Math.max });
  s.add(5);
  s.clear();
  t.is(s.get(), undefined);
  s.add(2);
  t.is(s.get(), 2);
});

test('reducing state - a new inline reduce function per call is the one applied', (t) => {
  const { backend } = backendWith();
  backend.setCurrentKey('k');
  backend.getReducingState<number>({ name: 'r', reduceFunction: (a, b) => a + b }).add(1);
  backend.getReducingState<number>({ name: 'r', reduceFunction: (a, b) => a * 10 + b }).add(2);
  t.is(backend.getReducingState<number>({ name: 'r', reduceFunction: (a) => a }).get(), 12);
});

test('reducing state - undefined cannot be added', (t) => {
  const { backend } = backendWith();
  backend.setCurrentKey('k');
  const s = backend.getReducingState<number>({ name: 'r', reduceFunction: (a, b) => a + b });
  t.throws(() => s.add(undefined as unknown as number), { code: 'TROUPE_INVALID_ARGUMENT' } as never);
});

test('reducing state - a descriptor without a reduce function is refused', (t) => {
  const { backend } = backendWith();
  t.throws(() => backend.getReducingState({ name: 'r' } as never), { code: 'TROUPE_INVALID_ARGUMENT', message: /reduceFunction/ } as never);
});

test('aggregating state - get() is undefined before the first add', (t) => {
  const { backend } = backendWith();
  backend.setCurrentKey('k');
  t.is(backend.getAggregatingState(aggregatingStateDescriptor('avg', average)).get(), undefined);
});

test('aggregating state - adds accumulate from createAccumulator and get() is getResult', (t) => {
  const { backend } = backendWith();
  backend.setCurrentKey('k');
  const s = backend.getAggregatingState(aggregatingStateDescriptor('avg', average));
  for (const v of [1, 2, 6]) s.add(v);
  t.is(s.get(), 3);
  t.deepEqual([...backend.entries('avg')].map((e) => e.value), [{ sum: 9, n: 3 }]);
});

test('aggregating state - clear() starts from a new accumulator', (t) => {
  const { backend } = backendWith();
  backend.setCurrentKey('k');
  const s = backend.getAggregatingState(aggregatingStateDescriptor('avg', average));
  s.add(10);
  s.clear();
  s.add(4);
  t.is(s.get(), 4);
});

test('aggregating state - an accumulator modified in place by add is kept', (t) => {
  const { backend } = backendWith();
  backend.setCurrentKey('k');
  const s = backend.getAggregatingState<string, string[], string>({
    name: 'join',
    aggregateFunction: {
      createAccumulator: () => [],
      add: (v, acc) => {
        acc.push(v);
        return acc;
      },
      getResult: (acc) => acc.join('+'),
    },
  });
  s.add('a');
  s.add('b');
  t.is(s.get(), 'a+b');
});

test('aggregating state - a function object missing getResult is refused', (t) => {
  const { backend } = backendWith();
  t.throws(() => backend.getAggregatingState({ name: 'a', aggregateFunction: { createAccumulator: () => 0, add: (v: number, a: number) => a + v } } as never), {
    code: 'TROUPE_INVALID_ARGUMENT',
    message: /getResult/,
  } as never);
});
