/**
 * Transformations → job graph (api/datastream/job-graph-builder.ts), driven through the public
 * API: StreamExecutionEnvironment.create(...).build(name), which runs nothing.
 * Builder invariants: 1. ids are the uid, else `${kind}-${creation index}`; 2. no sink → rejected;
 * 3. parallelism in [1, maxParallelism]. Job graph invariants (core/job-graph.ts): 1. vertices
 * in topological order; 2. forward edges connect equal parallelisms; 3. hash edges name the
 * keyed operator; 4. operator ids unique.
 */
import test from 'ava';
import { StreamExecutionEnvironment, type EnvironmentOptions } from '../../api/datastream/environment.js';
import type { DataStream } from '../../api/datastream/data-stream.js';
import type { Sink } from '../../api/datastream/sink.js';
import type { Source } from '../../api/datastream/source.js';
import type { JobEdge, JobGraph, JobVertex } from '../../core/job-graph.js';
import { TroupeError } from '../../core/errors.js';

/** A parallel source (no maxParallelism) that produces nothing. */
const parallelSource = (): Source<number> => ({ createReader: () => ({ pollNext: () => 'end' }) });
const nullSink = <T>(): Sink<T> => ({ createWriter: () => ({ write: () => undefined }) });

function env(options: EnvironmentOptions = {}): StreamExecutionEnvironment {
  return StreamExecutionEnvironment.create({ parallelism: 2, ...options });
}

function source(e: StreamExecutionEnvironment, name = 'Source'): DataStream<number> {
  return e.fromSource(parallelSource(), name);
}

function vertex(graph: JobGraph, id: string): JobVertex {
  const v = graph.vertices.find((x) => x.id === id);
  if (v === undefined) throw new Error(`no vertex ${id} in ${graph.vertices.map((x) => x.id).join(', ')}`);
  return v;
}

function edgesInto(graph: JobGraph, id: string): JobEdge[] {
  return graph.edges.filter((e) => e.target === id);
}

function assertTopological(t: import('ava').ExecutionContext, graph: JobGraph): void {
  const index = new Map(graph.vertices.map((v, i) => [v.id as string, i]));
  for (const e of graph.edges) {
    const from = index.get(e.source);
    const to = index.get(e.target);
    t.true(from !== undefined && to !== undefined && from < to, `edge ${e.id} ${e.source} → ${e.target} goes backwards`);
  }
}

// ---- chaining ----

test('job graph - source→map→filter→sink at equal parallelism chain into one vertex', (t) => {
  const e = env();
  source(e)
    .map((x) => x + 1)
    .filter((x) => x > 0)
    .sinkTo(nullSink());
  const { graph } = e.build('chain');
  t.is(graph.vertices.length, 1);
  t.deepEqual(graph.edges, []);
  const v = graph.vertices[0]!;
  t.deepEqual(
    v.operators.map((o) => o.kind),
    ['source', 'map', 'filter', 'sink'],
  );
  t.is(v.name, 'Source -> Map -> Filter -> Sink');
  t.is(v.parallelism, 2);
  t.deepEqual(
    v.operators.map((o) => o.chainedOutputs),
    [[1], [2], [3], []],
  );
  t.true(v.operators.every((o) => o.outEdges.length === 0));
  t.is<string, string>(v.id, v.operators[0]!.id, 'a vertex is named after its chain head');
});

test('job graph - build returns the user code of every operator by operator id', (t) => {
  const e = env();
  const fn = (x: number): number => x * 2;
  source(e).map(fn).sinkTo(nullSink());
  const { graph, userCode } = e.build();
  const ids = graph.vertices.flatMap((v) => v.operators.map((o) => o.id));
  t.deepEqual([...userCode.keys()].sort(), [...ids].sort());
  const map = graph.vertices[0]!.operators.find((o) => o.kind === 'map')!;
  const code = userCode.get(map.id);
  t.is(code?.kind, 'map');
  t.is<unknown, unknown>(code?.kind === 'map' ? code.fn : undefined, fn);
});

test('job graph - build records the job name, max parallelism and network config', (t) => {
  const e = StreamExecutionEnvironment.create({ parallelism: 3, maxParallelism: 64, network: { bufferRecords: 16 } });
  source(e).sinkTo(nullSink());
  const { graph } = e.build('my job');
  t.is(graph.name, 'my job');
  t.is(graph.maxParallelism, 64);
  t.is(graph.network.bufferRecords, 16);
  t.is(graph.vertices[0]!.maxParallelism, 64);
  t.regex(graph.jobId, /^[0-9a-f]{32}$/);
});

test('job graph - keyBy breaks the chain with a hash edge keyed by the downstream operator', (t) => {
  const e = env();
  source(e)
    .map((x) => x)
    .keyBy((x) => x % 3)
    .reduce((a, b) => a + b)
    .sinkTo(nullSink());
  const { graph } = e.build();
  t.is(graph.vertices.length, 2);
  t.is(graph.edges.length, 1);
  const edge = graph.edges[0]!;
  const [up, down] = graph.vertices;
  t.deepEqual(
    up!.operators.map((o) => o.kind),
    ['source', 'map'],
  );
  t.deepEqual(
    down!.operators.map((o) => o.kind),
    ['reduce', 'sink'],
  );
  t.is(edge.partitioner, 'hash');
  t.is(edge.keyedBy, down!.operators[0]!.id);
  t.is(edge.source, up!.id);
  t.is(edge.target, down!.id);
  t.is(edge.sourceOperator, up!.operators[1]!.id, 'the map writes into the edge');
  t.deepEqual(up!.operators[1]!.outEdges, [edge.id]);
});

test('job graph - the hash edge names the keyed operator by its uid', (t) => {
  const e = env();
  source(e)
    .keyBy((x) => x)
    .process({ processElement: () => undefined })
    .uid('counter')
    .sinkTo(nullSink());
  const { graph } = e.build();
  t.is(graph.edges[0]!.keyedBy as string, 'counter');
  t.is<string, string>(graph.edges[0]!.target, 'counter');
});

test('job graph - a keyed stream consumed by a non-keyed operator is an invalid job graph', (t) => {
  const e = env();
  source(e)
    .keyBy((x) => x)
    .map((x) => x)
    .sinkTo(nullSink());
  t.throws(() => e.build(), { instanceOf: TroupeError, code: 'TROUPE_INVALID_JOB_GRAPH', message: /not a keyed operator/ });
});

test('job graph - different parallelism between operators gives a rebalance edge', (t) => {
  const e = env();
  source(e)
    .map((x) => x)
    .setParallelism(3)
    .sinkTo(nullSink())
    .setParallelism(3);
  const { graph } = e.build();
  t.is(graph.vertices.length, 2);
  t.deepEqual(
    graph.edges.map((x) => x.partitioner),
    ['rebalance'],
  );
  t.deepEqual(
    graph.vertices.map((v) => v.parallelism),
    [2, 3],
  );
  t.is(graph.edges[0]!.keyedBy, undefined);
});

test('job graph - a sink with its own parallelism is connected by rebalance', (t) => {
  const e = env({ parallelism: 4 });
  source(e).sinkTo(nullSink()).setParallelism(1);
  const { graph } = e.build();
  t.deepEqual(
    graph.edges.map((x) => x.partitioner),
    ['rebalance'],
  );
});

test('job graph - explicit rebalance() breaks a chain at equal parallelism', (t) => {
  const e = env();
  source(e)
    .rebalance()
    .map((x) => x)
    .sinkTo(nullSink());
  const { graph } = e.build();
  t.is(graph.vertices.length, 2);
  t.deepEqual(
    graph.edges.map((x) => x.partitioner),
    ['rebalance'],
  );
  t.deepEqual(
    graph.vertices[1]!.operators.map((o) => o.kind),
    ['map', 'sink'],
  );
});

test('job graph - explicit broadcast() breaks a chain with a broadcast edge', (t) => {
  const e = env();
  source(e)
    .broadcast()
    .map((x) => x)
    .sinkTo(nullSink());
  const { graph } = e.build();
  t.is(graph.vertices.length, 2);
  t.deepEqual(
    graph.edges.map((x) => x.partitioner),
    ['broadcast'],
  );
});

test('job graph - explicit forward() at equal parallelism keeps the chain', (t) => {
  const e = env();
  source(e)
    .forward()
    .map((x) => x)
    .sinkTo(nullSink());
  const { graph } = e.build();
  t.is(graph.vertices.length, 1);
});

test('job graph - the partitioning closest to the consumer wins', (t) => {
  const e = env();
  source(e)
    .rebalance()
    .broadcast()
    .map((x) => x)
    .sinkTo(nullSink());
  const { graph } = e.build();
  t.deepEqual(
    graph.edges.map((x) => x.partitioner),
    ['broadcast'],
  );
});

test('job graph - forward() between different parallelisms is an invalid job graph (job graph invariant 2)', (t) => {
  const e = env();
  source(e)
    .forward()
    .map((x) => x)
    .setParallelism(3)
    .sinkTo(nullSink());
  t.throws(() => e.build(), { instanceOf: TroupeError, code: 'TROUPE_INVALID_JOB_GRAPH', message: /forward\(\)/ });
});

test('job graph - forward edges only ever connect equal parallelisms (job graph invariant 2)', (t) => {
  const e = env({ parallelism: 3 });
  const a = source(e, 'A').map((x) => x);
  a.setParallelism(3);
  a.map((x) => x)
    .setParallelism(1)
    .rebalance()
    .map((x) => x)
    .sinkTo(nullSink());
  const { graph } = e.build();
  for (const edge of graph.edges) {
    if (edge.partitioner === 'forward') t.is(vertex(graph, edge.source).parallelism, vertex(graph, edge.target).parallelism);
  }
  t.pass();
});

// ---- union ----

test('job graph - union gives one vertex with an input edge per unioned stream', (t) => {
  const e = env();
  const a = source(e, 'A');
  const b = source(e, 'B');
  a.union(b)
    .map((x) => x)
    .sinkTo(nullSink());
  const { graph } = e.build();
  t.is(graph.vertices.length, 3);
  const mapVertex = graph.vertices.find((v) => v.operators[0]!.kind === 'map')!;
  t.deepEqual(
    mapVertex.operators.map((o) => o.kind),
    ['map', 'sink'],
  );
  const inputs = edgesInto(graph, mapVertex.id);
  t.is(inputs.length, 2);
  t.deepEqual(inputs.map((x) => vertex(graph, x.source).name).sort(), ['A', 'B']);
  t.true(inputs.every((x) => x.partitioner === 'forward'));
});

test('job graph - a union of three streams with mixed parallelism', (t) => {
  const e = env();
  const a = source(e, 'A');
  const b = source(e, 'B').setParallelism(1);
  const c = source(e, 'C');
  a.union(b, c).sinkTo(nullSink(), 'S');
  const { graph } = e.build();
  const sink = graph.vertices.find((v) => v.name === 'S')!;
  const byName = Object.fromEntries(edgesInto(graph, sink.id).map((x) => [vertex(graph, x.source).name, x.partitioner]));
  t.deepEqual(byName, { A: 'forward', B: 'rebalance', C: 'forward' });
});

// ---- ids (builder invariant 1, job graph invariant 4) ----

test('job graph - uid() becomes the operator id (and the vertex id of a chain head)', (t) => {
  const e = env();
  source(e).uid('my-source').map((x) => x).uid('my-map').sinkTo(nullSink()).uid('my-sink');
  const { graph, userCode } = e.build();
  const v = graph.vertices[0]!;
  t.deepEqual(
    v.operators.map((o) => o.id as string),
    ['my-source', 'my-map', 'my-sink'],
  );
  t.is<string, string>(v.id, 'my-source');
  t.deepEqual([...userCode.keys()].sort(), ['my-map', 'my-sink', 'my-source']);
});

test('job graph - generated ids are kind and creation index', (t) => {
  const e = env();
  source(e)
    .map((x) => x)
    .keyBy((x) => x)
    .reduce((a) => a)
    .sinkTo(nullSink());
  const { graph } = e.build();
  t.deepEqual(
    graph.vertices.flatMap((v) => v.operators.map((o) => o.id as string)),
    ['source-0', 'map-1', 'reduce-3', 'sink-4'],
  );
});

test('job graph - duplicate uids are an invalid job graph (job graph invariant 4)', (t) => {
  const e = env();
  source(e)
    .uid('same')
    .map((x) => x)
    .uid('same')
    .sinkTo(nullSink());
  t.throws(() => e.build(), { instanceOf: TroupeError, code: 'TROUPE_INVALID_JOB_GRAPH', message: /'same' is used twice/ });
});

test('job graph - a uid equal to a generated id is an invalid job graph (job graph invariant 4)', (t) => {
  const e = env();
  source(e)
    .map((x) => x)
    .uid('source-0')
    .sinkTo(nullSink());
  t.throws(() => e.build(), { instanceOf: TroupeError, code: 'TROUPE_INVALID_JOB_GRAPH' });
});

test('job graph - an ill-formed uid is rejected at once', (t) => {
  const e = env();
  t.throws(() => source(e).uid('has space'), { instanceOf: TroupeError, code: 'TROUPE_INVALID_ARGUMENT' });
  t.throws(() => source(e).uid(''), { instanceOf: TroupeError, code: 'TROUPE_INVALID_ARGUMENT' });
});

function pipeline(e: StreamExecutionEnvironment): void {
  const a = source(e, 'A').map((x) => x + 1);
  const b = e.fromCollection([1, 2, 3]);
  a.union(b)
    .keyBy((x) => x % 2)
    .reduce((x, y) => x + y)
    .rebalance()
    .filter((x) => x > 0)
    .setParallelism(3)
    .sinkTo(nullSink());
}

test('job graph - generated ids are stable across two builds of the same pipeline (builder invariant 1)', (t) => {
  const e1 = env();
  const e2 = env();
  pipeline(e1);
  pipeline(e2);
  const g1 = e1.build('job');
  const g2 = e2.build('job');
  const shape = (g: JobGraph): unknown => ({ vertices: g.vertices, edges: g.edges });
  t.deepEqual(shape(g1.graph), shape(g2.graph));
  t.deepEqual([...g1.userCode.keys()], [...g2.userCode.keys()]);
  t.not(g1.graph.jobId, g2.graph.jobId);
});

test('job graph - building the same environment twice gives the same graph', (t) => {
  const e = env();
  pipeline(e);
  const a = e.build('job').graph;
  const b = e.build('job').graph;
  t.deepEqual(a.vertices, b.vertices);
  t.deepEqual(a.edges, b.edges);
});

test('job graph - operators that lead to no sink are left out', (t) => {
  const e = env();
  const s = source(e);
  s.map((x) => x, 'Dangling');
  s.filter(() => true).sinkTo(nullSink());
  const { graph, userCode } = e.build();
  const names = graph.vertices.flatMap((v) => v.operators.map((o) => o.name));
  t.false(names.includes('Dangling'));
  t.is(userCode.size, 3);
});

// ---- sinks (builder invariant 2) ----

test('job graph - a job without a sink is rejected with TROUPE_JOB_HAS_NO_SINK (builder invariant 2)', (t) => {
  const e = env();
  source(e).map((x) => x);
  t.throws(() => e.build('nothing'), { instanceOf: TroupeError, code: 'TROUPE_JOB_HAS_NO_SINK', message: /'nothing' has no sink/ });
});

test('job graph - an empty environment is rejected with TROUPE_JOB_HAS_NO_SINK (builder invariant 2)', (t) => {
  t.throws(() => env().build(), { instanceOf: TroupeError, code: 'TROUPE_JOB_HAS_NO_SINK' });
});

test('job graph - print() counts as a sink', (t) => {
  const e = env();
  source(e).print();
  t.notThrows(() => e.build());
});

// ---- parallelism (builder invariant 3) ----

for (const bad of [0, 1.5, -1, Number.NaN, 129]) {
  test(`job graph - environment parallelism ${bad} is rejected with TROUPE_INVALID_PARALLELISM (builder invariant 3)`, (t) => {
    t.throws(() => StreamExecutionEnvironment.create({ parallelism: bad }), { instanceOf: TroupeError, code: 'TROUPE_INVALID_PARALLELISM' });
  });

  test(`job graph - setParallelism(${bad}) is rejected with TROUPE_INVALID_PARALLELISM (builder invariant 3)`, (t) => {
    const e = env();
    t.throws(() => source(e).map((x) => x).setParallelism(bad), { instanceOf: TroupeError, code: 'TROUPE_INVALID_PARALLELISM' });
  });

  test(`job graph - setParallelism(${bad}) on a sink is rejected with TROUPE_INVALID_PARALLELISM (builder invariant 3)`, (t) => {
    const e = env();
    t.throws(() => source(e).sinkTo(nullSink()).setParallelism(bad), { instanceOf: TroupeError, code: 'TROUPE_INVALID_PARALLELISM' });
  });
}

test('job graph - parallelism above a custom maxParallelism is rejected (builder invariant 3)', (t) => {
  t.throws(() => StreamExecutionEnvironment.create({ parallelism: 9, maxParallelism: 8 }), { instanceOf: TroupeError, code: 'TROUPE_INVALID_PARALLELISM' });
  const e = StreamExecutionEnvironment.create({ parallelism: 1, maxParallelism: 8 });
  t.throws(() => source(e).setParallelism(9), { instanceOf: TroupeError, code: 'TROUPE_INVALID_PARALLELISM' });
  t.notThrows(() => source(e).setParallelism(8));
});

test('job graph - the TROUPE_INVALID_PARALLELISM error carries the offending value', (t) => {
  const e = env();
  const error = t.throws(() => source(e).setParallelism(0), { instanceOf: TroupeError });
  t.deepEqual(error.details, { parallelism: 0, maxParallelism: 128 });
});

test('job graph - maxParallelism outside [1, 32768] is rejected with TROUPE_INVALID_PARALLELISM', (t) => {
  for (const bad of [0, 32769, 2.5]) {
    t.throws(() => StreamExecutionEnvironment.create({ maxParallelism: bad }), { instanceOf: TroupeError, code: 'TROUPE_INVALID_PARALLELISM' }, String(bad));
  }
});

test('job graph - parallelism equal to maxParallelism is accepted', (t) => {
  const e = StreamExecutionEnvironment.create({ parallelism: 4, maxParallelism: 4 });
  source(e).sinkTo(nullSink());
  t.is(e.build().graph.vertices[0]!.parallelism, 4);
});

// ---- sources ----

test('job graph - a fromCollection source is forced to parallelism 1', (t) => {
  const e = env({ parallelism: 4 });
  e.fromCollection([1, 2, 3])
    .map((x) => x)
    .sinkTo(nullSink());
  const { graph } = e.build();
  t.deepEqual(
    graph.vertices.map((v) => v.parallelism),
    [1, 4],
  );
  t.deepEqual(
    graph.edges.map((x) => x.partitioner),
    ['rebalance'],
  );
});

test('job graph - setParallelism above a collection source’s maximum is rejected with TROUPE_INVALID_PARALLELISM', (t) => {
  const e = env({ parallelism: 4 });
  e.fromCollection([1])
    .setParallelism(2)
    .sinkTo(nullSink());
  t.throws(() => e.build(), { instanceOf: TroupeError, code: 'TROUPE_INVALID_PARALLELISM', message: /at most parallelism 1/ });
});

test('job graph - a fromCollection source at environment parallelism 1 chains with its consumers', (t) => {
  const e = env({ parallelism: 1 });
  e.fromCollection(['a'])
    .map((x) => x)
    .sinkTo(nullSink());
  t.is(e.build().graph.vertices.length, 1);
});

// ---- topological order (job graph invariant 1) ----

test('job graph - vertices are listed in topological order (job graph invariant 1)', (t) => {
  const e = env();
  const a = source(e, 'A');
  const b = source(e, 'B').setParallelism(1);
  const keyed = a
    .union(b)
    .keyBy((x) => x)
    .reduce((x, y) => x + y);
  const c = source(e, 'C');
  keyed
    .union(c)
    .rebalance()
    .map((x) => x)
    .setParallelism(3)
    .broadcast()
    .filter(() => true)
    .sinkTo(nullSink());
  keyed.sinkTo(nullSink()).setParallelism(1);
  const { graph } = e.build();
  t.true(graph.vertices.length >= 6);
  assertTopological(t, graph);
});

test('job graph - the stable pipeline is in topological order with unique operator ids (job graph invariants 1 and 4)', (t) => {
  const e = env();
  pipeline(e);
  const { graph } = e.build();
  assertTopological(t, graph);
  const ids = graph.vertices.flatMap((v) => v.operators.map((o) => o.id));
  t.is(new Set(ids).size, ids.length);
  t.is(new Set(graph.edges.map((x) => x.id)).size, graph.edges.length);
});
