import test from 'ava';
import { listStateDescriptor } from '../../state/list-state.js';
import { backendWith } from './backend-fixture.js';

function list() {
  const { backend } = backendWith();
  backend.setCurrentKey('k');
  return { backend, s: backend.getListState(listStateDescriptor<number>('l')) };
}

test('list state - get() is [] when nothing was added', (t) => {
  t.deepEqual(list().s.get(), []);
});

test('list state - add and addAll append in order', (t) => {
  const { s } = list();
  s.add(1);
  s.addAll([2, 3]);
  s.add(4);
  t.deepEqual(s.get(), [1, 2, 3, 4]);
});

test('list state - update replaces the list', (t) => {
  const { s } = list();
  s.addAll([1, 2]);
  s.update([9]);
  t.deepEqual(s.get(), [9]);
});

test('list state - update([]) and clear() leave no stored list', (t) => {
  const { backend, s } = list();
  s.add(1);
  s.update([]);
  t.deepEqual(s.get(), []);
  s.add(2);
  s.clear();
  t.deepEqual(s.get(), []);
  t.deepEqual(backend.sizes(), { l: 0 });
});

test('list state - addAll([]) on an empty list stores nothing', (t) => {
  const { backend, s } = list();
  s.addAll([]);
  t.deepEqual(backend.sizes(), { l: 0 });
});

test('list state - the array get() returns is a copy', (t) => {
  const { s } = list();
  s.add(1);
  s.get().push(2);
  t.deepEqual(s.get(), [1]);
});

test('list state - accepts any iterable (a Set, a generator)', (t) => {
  const { s } = list();
  s.addAll(new Set([1, 2]));
  s.addAll((function* () {
    yield 3;
  })());
  t.deepEqual(s.get(), [1, 2, 3]);
});

test('list state - undefined elements are refused and the list is unchanged', (t) => {
  const { s } = list();
  s.add(1);
  t.throws(() => s.add(undefined as unknown as number), { code: 'TROUPE_INVALID_ARGUMENT' } as never);
  t.throws(() => s.addAll([2, undefined as unknown as number]), { code: 'TROUPE_INVALID_ARGUMENT' } as never);
  t.throws(() => s.update([undefined as unknown as number]), { code: 'TROUPE_INVALID_ARGUMENT' } as never);
  t.deepEqual(s.get(), [1]);
});

test('list state - null is an element', (t) => {
  const { backend } = backendWith();
  backend.setCurrentKey('k');
  const s = backend.getListState<number | null>({ name: 'l' });
  s.add(null);
  t.deepEqual(s.get(), [null]);
});
