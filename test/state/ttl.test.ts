/**
 * State TTL (state/ttl.ts), with a ManualClock. Invariants cited from the module header:
 *  1. expired when lastAccess + ttlMs <= now; reads refresh lastAccess only under 'on-read-and-write'
 *  2. an access that finds an expired value removes it; 'return-expired-if-not-cleaned-up' shows it once
 *  3. lists and maps expire per element / per entry
 */
import test from 'ava';
import type { ManualClock } from '../../core/clock.js';
import type { HeapKeyedStateBackend } from '../../state/heap/heap-keyed-state-backend.js';
import type { StateTtlConfig } from '../../state/ttl.js';
import { backendWith } from './backend-fixture.js';

type UpdateType = NonNullable<StateTtlConfig['updateType']>;
type Visibility = NonNullable<StateTtlConfig['visibility']>;

/** One state kind reduced to: write the value 'v' (or its equivalent), read what is visible (undefined = nothing). */
interface Kind {
  readonly name: string;
  write(b: HeapKeyedStateBackend, ttl: StateTtlConfig): void;
  read(b: HeapKeyedStateBackend, ttl: StateTtlConfig): unknown;
  readonly written: unknown;
}

const KINDS: Kind[] = [
  { name: 'value', written: 'v', write: (b, ttl) => b.getValueState({ name: 's', ttl }).update('v'), read: (b, ttl) => b.getValueState({ name: 's', ttl }).value() },
  { name: 'list', written: ['v'], write: (b, ttl) => b.getListState({ name: 's', ttl }).add('v'), read: (b, ttl) => nothingIfEmpty(b.getListState({ name: 's', ttl }).get()) },
  { name: 'map', written: 'v', write: (b, ttl) => b.getMapState({ name: 's', ttl }).put('k', 'v'), read: (b, ttl) => b.getMapState({ name: 's', ttl }).get('k') },
  {
    name: 'reducing',
    written: 'v',
    write: (b, ttl) => b.getReducingState<string>({ name: 's', ttl, reduceFunction: (a, x) => a + x }).add('v'),
    read: (b, ttl) => b.getReducingState<string>({ name: 's', ttl, reduceFunction: (a, x) => a + x }).get(),
  },
  {
    name: 'aggregating',
    written: 1,
    write: (b, ttl) => b.getAggregatingState({ name: 's', ttl, aggregateFunction: COUNT }).add('v'),
    read: (b, ttl) => b.getAggregatingState({ name: 's', ttl, aggregateFunction: COUNT }).get(),
  },
];

const COUNT = { createAccumulator: () => 0, add: (_v: string, n: number) => n + 1, getResult: (n: number) => n };

function nothingIfEmpty(list: unknown[]): unknown {
  return list.length === 0 ? undefined : list;
}

function setup(): { backend: HeapKeyedStateBackend; clock: ManualClock } {
  const fixture = backendWith();
  fixture.backend.setCurrentKey('key');
  return fixture;
}

// Written at 1000 with ttlMs 100; read at 1050, 1120, then 1120 again, then at 1260.
// on-create-and-write: expires at 1100. on-read-and-write: the reads at 1050 and 1120 push it to 1220.
const EXPECTED: Record<UpdateType, Record<Visibility, [boolean, boolean, boolean, boolean]>> = {
  'on-create-and-write': {
    'never-return-expired': [true, false, false, false],
    'return-expired-if-not-cleaned-up': [true, true, false, false],
  },
  'on-read-and-write': {
    'never-return-expired': [true, true, true, false],
    'return-expired-if-not-cleaned-up': [true, true, true, true],
  },
};

for (const kind of KINDS) {
  for (const updateType of ['on-create-and-write', 'on-read-and-write'] as const) {
    for (const visibility of ['never-return-expired', 'return-expired-if-not-cleaned-up'] as const) {
      const expected = EXPECTED[updateType][visibility];
      test(`ttl - ${kind.name} state, ${updateType}, ${visibility}: visible at reads 1050/1120/1120/1260 = ${expected.join('/')}`, (t) => {
        const { backend, clock } = setup();
        const ttl: StateTtlConfig = { ttlMs: 100, updateType, visibility };
        kind.write(backend, ttl);
        const seen: boolean[] = [];
        for (const at of [1050, 1120, 1120, 1260]) {
          clock.advance(at - clock.now());
          const got = kind.read(backend, ttl);
          if (got !== undefined) t.deepEqual(got, kind.written, `read at ${at}`);
          seen.push(got !== undefined);
        }
        t.deepEqual(seen, expected);
      });
    }
  }

  test(`ttl - ${kind.name} state expires exactly at lastAccess + ttlMs`, (t) => {
    const { backend, clock } = setup();
    const ttl = { ttlMs: 100 };
    kind.write(backend, ttl);
    clock.advance(99);
    t.not(kind.read(backend, ttl), undefined);
    clock.advance(1);
    t.is(kind.read(backend, ttl), undefined);
  });

  test(`ttl - ${kind.name} state: a write refreshes the timestamp under on-create-and-write`, (t) => {
    const { backend, clock } = setup();
    const ttl = { ttlMs: 100 };
    kind.write(backend, ttl);
    clock.advance(80);
    kind.write(backend, ttl);
    clock.advance(80);
    t.not(kind.read(backend, ttl), undefined);
  });

  test(`ttl - ${kind.name} state: an expired value found by a read is removed from the backend`, (t) => {
    const { backend, clock } = setup();
    const ttl = { ttlMs: 100, visibility: 'return-expired-if-not-cleaned-up' } as const;
    kind.write(backend, ttl);
    clock.advance(100);
    t.deepEqual(backend.sizes(), { s: 1 });
    t.not(kind.read(backend, ttl), undefined);
    t.deepEqual(backend.sizes(), { s: 0 });
  });

  test(`ttl - ${kind.name} state: cleanupExpired removes the expired value, so return-expired shows nothing`, (t) => {
    const { backend, clock } = setup();
    const ttl = { ttlMs: 100, visibility: 'return-expired-if-not-cleaned-up' } as const;
    kind.write(backend, ttl);
    backend.setCurrentKey('fresh');
    clock.advance(60);
    kind.write(backend, ttl);
    clock.advance(40);
    backend.mark();
    t.is(backend.cleanupExpired(), 1);
    t.deepEqual(backend.sizes(), { s: 1 });
    t.not(kind.read(backend, ttl), undefined, 'the fresh key keeps its value');
    backend.setCurrentKey('key');
    t.is(kind.read(backend, ttl), undefined);
  });
}

test('ttl - reducing state: an add after expiry starts a new fold (the expired value is dropped even if visible)', (t) => {
  const { backend, clock } = setup();
  const d = { name: 'r', ttl: { ttlMs: 100, visibility: 'return-expired-if-not-cleaned-up' as const }, reduceFunction: (a: number, b: number) => a + b };
  backend.getReducingState(d).add(5);
  clock.advance(100);
  backend.getReducingState(d).add(1);
  t.is(backend.getReducingState(d).get(), 1);
});

test('ttl - aggregating state: an add after expiry starts from a new accumulator', (t) => {
  const { backend, clock } = setup();
  const d = { name: 'a', ttl: { ttlMs: 100 }, aggregateFunction: COUNT };
  backend.getAggregatingState(d).add('x');
  backend.getAggregatingState(d).add('x');
  clock.advance(100);
  backend.getAggregatingState(d).add('x');
  t.is(backend.getAggregatingState(d).get(), 1);
});

test('ttl - value state: the default value stands in for an expired value', (t) => {
  const { backend, clock } = setup();
  const d = { name: 'v', defaultValue: 0, ttl: { ttlMs: 100 } };
  backend.getValueState(d).update(7);
  clock.advance(100);
  t.is(backend.getValueState(d).value(), 0);
});

test('ttl - list state: elements expire one by one', (t) => {
  const { backend, clock } = setup();
  const s = backend.getListState<string>({ name: 'l', ttl: { ttlMs: 100 } });
  s.add('a');
  clock.advance(30);
  s.addAll(['b', 'c']);
  clock.advance(30);
  s.add('d');
  clock.advance(40);
  t.deepEqual(s.get(), ['b', 'c', 'd']);
  clock.advance(30);
  t.deepEqual(s.get(), ['d']);
  clock.advance(30);
  t.deepEqual(s.get(), []);
  t.deepEqual(backend.sizes(), { l: 0 });
});

test('ttl - list state: update() stamps every element with the time of the update', (t) => {
  const { backend, clock } = setup();
  const s = backend.getListState<string>({ name: 'l', ttl: { ttlMs: 100 } });
  s.add('old');
  clock.advance(90);
  s.update(['x', 'y']);
  clock.advance(90);
  t.deepEqual(s.get(), ['x', 'y']);
});

test('ttl - list state, return-expired: expired elements are shown once among the live ones, in order', (t) => {
  const { backend, clock } = setup();
  const s = backend.getListState<string>({ name: 'l', ttl: { ttlMs: 100, visibility: 'return-expired-if-not-cleaned-up' } });
  s.add('a');
  clock.advance(50);
  s.add('b');
  clock.advance(50);
  t.deepEqual(s.get(), ['a', 'b']);
  t.deepEqual(s.get(), ['b']);
});

test('ttl - list state, on-read-and-write: a read refreshes every live element', (t) => {
  const { backend, clock } = setup();
  const s = backend.getListState<string>({ name: 'l', ttl: { ttlMs: 100, updateType: 'on-read-and-write' } });
  s.add('a');
  clock.advance(50);
  s.add('b');
  clock.advance(49);
  t.deepEqual(s.get(), ['a', 'b']);
  clock.advance(99);
  t.deepEqual(s.get(), ['a', 'b']);
});

test('ttl - map state: entries expire one by one and entries/keys/values/isEmpty skip expired ones', (t) => {
  const { backend, clock } = setup();
  const s = backend.getMapState<string, number>({ name: 'm', ttl: { ttlMs: 100 } });
  s.put('a', 1);
  clock.advance(50);
  s.put('b', 2);
  clock.advance(50);
  t.deepEqual(s.entries(), [['b', 2]]);
  t.deepEqual(s.keys(), ['b']);
  t.deepEqual(s.values(), [2]);
  t.false(s.contains('a'));
  t.false(s.isEmpty());
  clock.advance(50);
  t.true(s.isEmpty());
  t.deepEqual(backend.sizes(), { m: 0 });
});

test('ttl - map state, on-read-and-write: get, contains and entries refresh what they read; isEmpty does not', (t) => {
  const { backend, clock } = setup();
  const s = backend.getMapState<string, number>({ name: 'm', ttl: { ttlMs: 100, updateType: 'on-read-and-write' } });
  s.putAll([['a', 1], ['b', 2], ['c', 3], ['d', 4]]);
  clock.advance(90);
  s.get('a');
  t.true(s.contains('b'));
  t.false(s.isEmpty());
  clock.advance(10);
  t.deepEqual(s.keys(), ['a', 'b'], 'c and d were only seen by isEmpty');
  clock.advance(99);
  t.deepEqual(s.keys(), ['a', 'b'], 'keys() refreshed a and b');
});

test('ttl - map state, return-expired: contains and get see an expired entry once', (t) => {
  const { backend, clock } = setup();
  const s = backend.getMapState<string, number>({ name: 'm', ttl: { ttlMs: 100, visibility: 'return-expired-if-not-cleaned-up' } });
  s.put('a', 1);
  s.put('b', 2);
  clock.advance(100);
  t.true(s.contains('a'));
  t.false(s.contains('a'));
  t.is(s.get('b'), 2);
  t.is(s.get('b'), undefined);
});

test('ttl - cleanupExpired counts list elements and map entries and marks only their key groups dirty', (t) => {
  const { backend, clock } = setup();
  const list = backend.getListState<number>({ name: 'l', ttl: { ttlMs: 100 } });
  const map = backend.getMapState<number, number>({ name: 'm', ttl: { ttlMs: 100 } });
  list.addAll([1, 2, 3]);
  map.putAll([[1, 1], [2, 2]]);
  const staleGroup = backend.getCurrentKeyGroup();
  let other = 0;
  do backend.setCurrentKey(`other-${other++}`);
  while (backend.getCurrentKeyGroup() === staleGroup);
  clock.advance(50);
  list.add(4);
  map.put(3, 3);
  clock.advance(50);
  backend.mark();
  t.is(backend.cleanupExpired(), 5);
  t.deepEqual(backend.dirtyKeyGroups(), [staleGroup]);
  t.deepEqual(list.get(), [4]);
  t.deepEqual(map.entries(), [[3, 3]]);
  t.is(backend.cleanupExpired(), 0);
});

test('ttl - states without TTL are untouched by cleanupExpired, however old', (t) => {
  const { backend, clock } = setup();
  backend.getValueState<number>({ name: 'v' }).update(1);
  clock.advance(10 ** 12);
  t.is(backend.cleanupExpired(), 0);
  t.is(backend.getValueState<number>({ name: 'v' }).value(), 1);
});

test('ttl - a changed ttlMs on the same name applies to the values already stored', (t) => {
  const { backend, clock } = setup();
  backend.getValueState<number>({ name: 'v', ttl: { ttlMs: 100 } }).update(1);
  clock.advance(150);
  t.is(backend.getValueState<number>({ name: 'v', ttl: { ttlMs: 1000 } }).value(), 1);
});

test('ttl - invalid configurations are refused with TROUPE_INVALID_ARGUMENT', (t) => {
  const { backend } = setup();
  for (const ttl of [{ ttlMs: 0 }, { ttlMs: -1 }, { ttlMs: Infinity }, { ttlMs: NaN }, { ttlMs: 10, updateType: 'on-read' }, { ttlMs: 10, visibility: 'sometimes' }]) {
    t.throws(() => backend.getValueState({ name: `v${JSON.stringify(ttl)}`, ttl: ttl as StateTtlConfig }), { code: 'TROUPE_INVALID_ARGUMENT' } as never, JSON.stringify(ttl));
  }
});
