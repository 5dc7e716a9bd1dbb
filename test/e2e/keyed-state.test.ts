/**
 * Every keyed state kind end to end on the embedded cluster: a KeyedProcessFunction keeps per-user
 * Value, List, Map, Reducing and Aggregating state (one with TTL) and emits what it sees; the output
 * equals a hand model exactly, at parallelism 1 and 3. The source runs at parallelism 1 so that the
 * records of one key reach the keyed operator in a known order.
 */
import test from 'ava';
import {
  StreamExecutionEnvironment,
  aggregatingStateDescriptor,
  listStateDescriptor,
  mapStateDescriptor,
  reducingStateDescriptor,
  valueStateDescriptor,
  type AggregateFunction,
  type KeyedProcessFunction,
  type ListState,
  type MapState,
} from '../../index.js';
import { seededRng } from '../helpers/prng.js';

interface Purchase {
  readonly user: string;
  readonly item: string;
  readonly amount: number;
}

interface Seen {
  readonly user: string;
  readonly count: number;
  readonly recent: string[];
  readonly itemTotal: number;
  readonly distinctItems: number;
  readonly maxAmount: number;
  readonly average: number;
  readonly firstOfUser: boolean;
}

const average: AggregateFunction<number, { sum: number; n: number }, number> = {
  createAccumulator: () => ({ sum: 0, n: 0 }),
  add: (v, acc) => ({ sum: acc.sum + v, n: acc.n + 1 }),
  getResult: (acc) => Math.round((acc.sum / acc.n) * 100) / 100,
};

const countDescriptor = valueStateDescriptor('count', 0);
const recentDescriptor = listStateDescriptor<string>('recent');
const itemsDescriptor = mapStateDescriptor<string, number>('items');
const maxDescriptor = reducingStateDescriptor<number>('max', Math.max);
const averageDescriptor = aggregatingStateDescriptor('average', average);
const seenDescriptor = valueStateDescriptor<boolean>('seen', undefined, { ttl: { ttlMs: 3_600_000, updateType: 'on-read-and-write' } });

function purchases(n: number): Purchase[] {
  const rng = seededRng(31337);
  return Array.from({ length: n }, () => ({ user: `u${rng.int(0, 24)}`, item: `i${rng.int(0, 9)}`, amount: rng.int(1, 500) }));
}

/** The hand model: plain Maps per user, records in order. */
function expected(records: readonly Purchase[]): Seen[] {
  const users = new Map<string, { count: number; recent: string[]; items: Map<string, number>; max: number; sum: number }>();
  return records.map((r) => {
    let u = users.get(r.user);
    const firstOfUser = u === undefined;
    if (u === undefined) users.set(r.user, (u = { count: 0, recent: [], items: new Map(), max: -Infinity, sum: 0 }));
    u.count++;
    u.recent = [...u.recent, r.item].slice(-3);
    u.items.set(r.item, (u.items.get(r.item) ?? 0) + r.amount);
    u.max = Math.max(u.max, r.amount);
    u.sum += r.amount;
    return {
      user: r.user,
      count: u.count,
      recent: u.recent,
      itemTotal: u.items.get(r.item)!,
      distinctItems: u.items.size,
      maxAmount: u.max,
      average: Math.round((u.sum / u.count) * 100) / 100,
      firstOfUser,
    };
  });
}

// One function object serves every subtask in a process (no per-subtask copies), so handles are
// fetched per record from the subtask's context rather than kept from open().
function tracker(): KeyedProcessFunction<string, Purchase, Seen> {
  return {
    processElement(r, ctx, out) {
      const recent: ListState<string> = ctx.runtime.getListState(recentDescriptor);
      const items: MapState<string, number> = ctx.runtime.getMapState(itemsDescriptor);
      const count = ctx.runtime.getState(countDescriptor);
      count.update((count.value() ?? 0) + 1);
      recent.add(r.item);
      const list = recent.get();
      if (list.length > 3) recent.update(list.slice(-3));
      items.put(r.item, (items.get(r.item) ?? 0) + r.amount);
      const max = ctx.runtime.getReducingState(maxDescriptor);
      max.add(r.amount);
      const avg = ctx.runtime.getAggregatingState(averageDescriptor);
      avg.add(r.amount);
      const seen = ctx.runtime.getState(seenDescriptor);
      const firstOfUser = seen.value() === undefined;
      seen.update(true);
      out.collect({
        user: ctx.getCurrentKey(),
        count: count.value()!,
        recent: recent.get(),
        itemTotal: items.get(r.item)!,
        distinctItems: items.keys().length,
        maxAmount: max.get()!,
        average: avg.get()!,
        firstOfUser,
      });
    },
  };
}

const order = (a: Seen, b: Seen): number => (a.user === b.user ? a.count - b.count : a.user < b.user ? -1 : 1);

for (const parallelism of [1, 3]) {
  test(`keyed state e2e - value, list, map, reducing, aggregating and TTL state give the hand-model output exactly, parallelism ${parallelism}`, async (t) => {
    const records = purchases(3000);
    const env = StreamExecutionEnvironment.create({ parallelism });
    const stream = env
      .fromCollection(records)
      .setParallelism(1)
      .keyBy((r) => r.user)
      .process(tracker());
    const out = await env.executeAndCollect(stream);
    t.is(out.length, records.length);
    t.deepEqual([...out].sort(order), expected(records).sort(order));
  });
}

test('keyed state e2e - a state name used as two kinds fails the job with TROUPE_INVALID_ARGUMENT naming the operator', async (t) => {
  const env = StreamExecutionEnvironment.create({ parallelism: 2 });
  const confused: KeyedProcessFunction<number, number, number> = {
    processElement(n, ctx, out) {
      ctx.runtime.getState<number>({ name: 'x' }).update(n);
      ctx.runtime.getListState<number>({ name: 'x' }).add(n);
      out.collect(n);
    },
  };
  env
    .fromCollection([1, 2, 3])
    .keyBy((n) => n)
    .process(confused)
    .name('Confused')
    .print();
  const error = await t.throwsAsync(env.execute());
  t.is((error as { code?: string }).code, 'TROUPE_INVALID_ARGUMENT');
  t.is((error as { operator?: string }).operator, 'Confused');
});
