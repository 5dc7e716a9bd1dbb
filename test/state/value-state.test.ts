import test from 'ava';
import { valueStateDescriptor } from '../../state/value-state.js';
import { backendWith } from './backend-fixture.js';

test('value state - value() is undefined before the first update', (t) => {
  const { backend } = backendWith();
  backend.setCurrentKey('a');
  t.is(backend.getValueState<number>({ name: 'v' }).value(), undefined);
});

test('value state - value() returns the last update', (t) => {
  const { backend } = backendWith();
  backend.setCurrentKey('a');
  const s = backend.getValueState<number>({ name: 'v' });
  s.update(1);
  s.update(2);
  t.is(s.value(), 2);
});

test('value state - the default value stands in for no value and is not stored', (t) => {
  const { backend } = backendWith();
  backend.setCurrentKey('a');
  const s = backend.getValueState(valueStateDescriptor('v', 0));
  t.is(s.value(), 0);
  t.deepEqual(backend.sizes(), { v: 0 });
});

test('value state - clear() removes the value and update(undefined) clears too', (t) => {
  const { backend } = backendWith();
  backend.setCurrentKey('a');
  const s = backend.getValueState<number>({ name: 'v', defaultValue: -1 });
  s.update(5);
  s.clear();
  t.is(s.value(), -1);
  s.update(6);
  s.update(undefined as unknown as number);
  t.is(s.value(), -1);
  t.deepEqual(backend.sizes(), { v: 0 });
});

test('value state - falsy values (0, empty string, null, false) are values, not absence', (t) => {
  const { backend } = backendWith();
  for (const [i, v] of [0, '', null, false].entries()) {
    backend.setCurrentKey(i);
    const s = backend.getValueState<unknown>({ name: 'v', defaultValue: 'default' });
    s.update(v);
    t.is(s.value(), v);
  }
});

test('value state - a handle follows the current key', (t) => {
  const { backend } = backendWith();
  const s = backend.getValueState<string>({ name: 'v' });
  backend.setCurrentKey('a');
  s.update('for a');
  backend.setCurrentKey('b');
  t.is(s.value(), undefined);
  s.update('for b');
  backend.setCurrentKey('a');
  t.is(s.value(), 'for a');
});

test('value state - an equal descriptor literal per record gets the same cached handle', (t) => {
  const { backend } = backendWith();
  const first = backend.getValueState<number>({ name: 'v', defaultValue: 0 });
  t.is(backend.getValueState<number>({ name: 'v', defaultValue: 0 }), first);
  t.not(backend.getValueState<number>({ name: 'v', defaultValue: 1 }), first);
});

test('value state - use without a current key throws TROUPE_INVALID_ARGUMENT', (t) => {
  const { backend } = backendWith();
  const s = backend.getValueState<number>({ name: 'v' });
  t.throws(() => s.value(), { code: 'TROUPE_INVALID_ARGUMENT', message: /no current key/ } as never);
  t.throws(() => s.update(1), { code: 'TROUPE_INVALID_ARGUMENT' } as never);
});

test('value state - a descriptor without a name is refused', (t) => {
  const { backend } = backendWith();
  t.throws(() => backend.getValueState({ name: '' }), { code: 'TROUPE_INVALID_ARGUMENT' } as never);
  t.throws(() => valueStateDescriptor(''), { code: 'TROUPE_INVALID_ARGUMENT' } as never);
});

test('state names - one name used as two kinds is refused', (t) => {
  const { backend } = backendWith();
  backend.getValueState({ name: 'x' });
  t.throws(() => backend.getListState({ name: 'x' }), { code: 'TROUPE_INVALID_ARGUMENT', message: /'x' is a value state; it cannot be used as a list state/ } as never);
});

test('state names - one name with and without TTL is refused', (t) => {
  const { backend } = backendWith();
  backend.getValueState({ name: 'x' });
  t.throws(() => backend.getValueState({ name: 'x', ttl: { ttlMs: 10 } }), { code: 'TROUPE_INVALID_ARGUMENT', message: /TTL/ } as never);
});
