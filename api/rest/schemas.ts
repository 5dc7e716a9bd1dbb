/**
 * joi schemas for every REST request part. The job graph is checked in depth, both its shape and
 * its cross-references (the invariants of core/job-graph.ts), so a bad submission is refused at
 * the door with every problem listed instead of failing later inside the JobMaster.
 *
 * Cross-reference rules sit on the smallest object that can judge them (an edge, an operator):
 * joi skips an object's own rules when one of its children failed, so a rule on the whole graph
 * would stay silent exactly when other problems are being reported.
 */
import Joi from 'joi';
import { validateRestartStrategy } from '../../actors/job-master/restart-strategy.js';
import type { NetworkConfig, OperatorKind, PartitionerKind } from '../../core/job-graph.js';
import { UPPER_BOUND_MAX_PARALLELISM } from '../../state/key-groups.js';

/** Exhaustive by construction: a new OperatorKind fails to compile until it is listed here. */
const OPERATOR_KINDS = Object.keys({
  source: true,
  map: true,
  filter: true,
  'flat-map': true,
  process: true,
  'keyed-process': true,
  reduce: true,
  sink: true,
} satisfies Record<OperatorKind, true>);

const PARTITIONER_KINDS = Object.keys({
  forward: true,
  rebalance: true,
  hash: true,
  broadcast: true,
} satisfies Record<PartitionerKind, true>);

export const JOB_ID_PATTERN = /^[0-9a-f]{32}$/;
export const MAX_ARGS = 1000;
const MAX_ID_LENGTH = 256;
const MAX_NAME_LENGTH = 4096;

const jobId = Joi.string()
  .pattern(JOB_ID_PATTERN)
  .messages({ 'string.pattern.base': '{{#label}} must be 32 lowercase hex digits' });
const elementId = Joi.string().min(1).max(MAX_ID_LENGTH);
const displayName = Joi.string().allow('').max(MAX_NAME_LENGTH);
const count = (min: number): Joi.NumberSchema => Joi.number().integer().min(min).max(Number.MAX_SAFE_INTEGER);

// ---- the graph as seen from inside it (ancestors of the value under test) ----

interface LooseOperator { readonly id?: unknown; readonly outEdges?: unknown }
interface LooseVertex { readonly id?: unknown; readonly parallelism?: unknown; readonly operators?: unknown }
interface LooseEdge { readonly id?: unknown; readonly sourceOperator?: unknown }
interface LooseGraph { readonly vertices?: unknown; readonly edges?: unknown }

const objectsIn = <T>(value: unknown): T[] => (Array.isArray(value) ? (value as T[]).filter((x) => x !== null && typeof x === 'object') : []);

/** Lookups over the raw (possibly invalid) graph, built once per array so each check is O(1). */
interface VertexIndex {
  readonly position: ReadonlyMap<unknown, number>;
  readonly vertices: readonly LooseVertex[];
  readonly idCount: ReadonlyMap<unknown, number>;
  /** Operator id → the vertex position holding it (first occurrence) and its out-edges. */
  readonly operators: ReadonlyMap<unknown, { readonly vertex: number; readonly outEdges: unknown }>;
  readonly operatorIdCount: ReadonlyMap<unknown, number>;
}
interface EdgeIndex {
  readonly byId: ReadonlyMap<unknown, LooseEdge>;
  readonly idCount: ReadonlyMap<unknown, number>;
}

const bump = (counts: Map<unknown, number>, key: unknown): void => void counts.set(key, (counts.get(key) ?? 0) + 1);
const vertexIndexes = new WeakMap<object, VertexIndex>();
const edgeIndexes = new WeakMap<object, EdgeIndex>();

function vertexIndexOf(graph: unknown): VertexIndex {
  const raw = (graph as LooseGraph | undefined)?.vertices;
  const cached = Array.isArray(raw) ? vertexIndexes.get(raw) : undefined;
  if (cached !== undefined) return cached;
  const vertices = objectsIn<LooseVertex>(raw);
  const position = new Map<unknown, number>();
  const idCount = new Map<unknown, number>();
  const operators = new Map<unknown, { vertex: number; outEdges: unknown }>();
  const operatorIdCount = new Map<unknown, number>();
  vertices.forEach((v, i) => {
    if (!position.has(v.id)) position.set(v.id, i);
    bump(idCount, v.id);
    for (const o of objectsIn<LooseOperator>(v.operators)) {
      if (!operators.has(o.id)) operators.set(o.id, { vertex: i, outEdges: o.outEdges });
      bump(operatorIdCount, o.id);
    }
  });
  const index = { position, vertices, idCount, operators, operatorIdCount };
  if (Array.isArray(raw)) vertexIndexes.set(raw, index);
  return index;
}

function edgeIndexOf(graph: unknown): EdgeIndex {
  const raw = (graph as LooseGraph | undefined)?.edges;
  const cached = Array.isArray(raw) ? edgeIndexes.get(raw) : undefined;
  if (cached !== undefined) return cached;
  const byId = new Map<unknown, LooseEdge>();
  const idCount = new Map<unknown, number>();
  for (const e of objectsIn<LooseEdge>(raw)) {
    if (!byId.has(e.id)) byId.set(e.id, e);
    bump(idCount, e.id);
  }
  const index = { byId, idCount };
  if (Array.isArray(raw)) edgeIndexes.set(raw, index);
  return index;
}

/** The object `up` levels above the value under test (1 = its parent). */
const ancestor = (helpers: Joi.CustomHelpers, up: number): unknown => (helpers.state.ancestors as unknown[])[up - 1];
/** Index of the value under test in its array (last path segment). */
const indexInArray = (helpers: Joi.CustomHelpers): number => Number(helpers.state.path?.at(-1));

/**
 * A check of a string against the graph, `up` levels above it. (Custom rules, not joi
 * references: references make joi reorder keys, and operators and edges refer to each other.)
 */
const against = (up: number, ok: (graph: unknown, value: string) => boolean, code: string): Joi.CustomValidator<string> => (value, helpers) =>
  ok(ancestor(helpers, up), value) ? value : helpers.error(code);

const GRAPH_MESSAGES = {
  'graph.duplicateVertex': '{{#label}} {{#value}} is not unique',
  'graph.duplicateEdge': '{{#label}} {{#value}} is not unique',
  'graph.duplicateOperator': '{{#label}} {{#value}} is not unique: operator ids must be unique within a job',
  'graph.unknownEdge': '{{#label}} must name an edge of the graph',
  'graph.unknownVertex': '{{#label}} must name a vertex of the graph',
  'graph.unknownOperator': '{{#label}} must name an operator of the graph',
};

// ---- operators ----

/** On an operator: chained outputs point further down the chain; out-edges are this operator's. */
const operatorRule: Joi.CustomValidator<{ id: string; outEdges: string[]; chainedOutputs: number[] }> = (value, helpers) => {
  const index = indexInArray(helpers);
  const chainLength = objectsIn(ancestor(helpers, 1)).length;
  const bad = value.chainedOutputs.find((i) => i <= index || i >= chainLength);
  if (bad !== undefined) return helpers.error('graph.chainedOutput', { index: bad, length: chainLength });
  // operator → operators → vertex → vertices → graph
  const edges = edgeIndexOf(ancestor(helpers, 4)).byId;
  const foreign = value.outEdges.find((id) => edges.get(id)?.sourceOperator !== value.id);
  if (foreign !== undefined) return helpers.error('graph.foreignOutEdge', { edge: foreign });
  return value;
};

const operator = Joi.object({
  // id → operator → operators → vertex → vertices → graph
  id: elementId.required().custom(against(5, (g, id) => vertexIndexOf(g).operatorIdCount.get(id) === 1, 'graph.duplicateOperator')),
  name: displayName.required(),
  kind: Joi.string()
    .valid(...OPERATOR_KINDS)
    .required(),
  // item → outEdges → operator → operators → vertex → vertices → graph
  outEdges: Joi.array()
    .items(Joi.string().custom(against(6, (g, id) => edgeIndexOf(g).byId.has(id), 'graph.unknownEdge')))
    .unique()
    .required(),
  chainedOutputs: Joi.array().items(count(0)).unique().required(),
})
  .custom(operatorRule)
  .messages({
    'graph.chainedOutput': '{{#label}} chains to index {{#index}}, which is not a later member of its chain of {{#length}}',
    'graph.foreignOutEdge': '{{#label}} lists edge {{#edge}}, which another operator writes',
  });

// ---- vertices ----

const vertex = Joi.object({
  // id → vertex → vertices → graph
  id: elementId.required().custom(against(3, (g, id) => vertexIndexOf(g).idCount.get(id) === 1, 'graph.duplicateVertex')),
  name: displayName.required(),
  maxParallelism: Joi.number().integer().min(1).max(UPPER_BOUND_MAX_PARALLELISM).required(),
  parallelism: Joi.number()
    .integer()
    .min(1)
    .max(Joi.ref('maxParallelism'))
    .required()
    .messages({ 'number.max': '{{#label}} {{#value}} exceeds the vertex maxParallelism' }),
  operators: Joi.array().items(operator).min(1).required(),
});

// ---- edges ----

/** On an edge (after its fields passed): ancestors are edges, graph. Invariants 1 and 2 of core/job-graph.ts, and the writer. */
const edgeRule: Joi.CustomValidator<{ id: string; source: string; target: string; sourceOperator: string; partitioner: PartitionerKind }> = (value, helpers) => {
  const index = vertexIndexOf(ancestor(helpers, 2));
  const from = index.position.get(value.source) ?? -1;
  const to = index.position.get(value.target) ?? -1;
  if (from >= to) return helpers.error('graph.edgeBackwards', { source: value.source, target: value.target });
  const writer = index.operators.get(value.sourceOperator);
  if (writer?.vertex !== from) return helpers.error('graph.edgeWriter', { operator: value.sourceOperator, source: value.source });
  if (!Array.isArray(writer.outEdges) || !writer.outEdges.includes(value.id)) {
    return helpers.error('graph.edgeNotListed', { operator: value.sourceOperator, edge: value.id });
  }
  const [p, q] = [index.vertices[from]?.parallelism, index.vertices[to]?.parallelism];
  if (value.partitioner === 'forward' && p !== q) return helpers.error('graph.forwardParallelism', { p, q });
  return value;
};

// field → edge → edges → graph
const vertexRef = elementId.custom(against(3, (g, id) => vertexIndexOf(g).position.has(id), 'graph.unknownVertex'));
const operatorRef = elementId.custom(against(3, (g, id) => vertexIndexOf(g).operators.has(id), 'graph.unknownOperator'));

const edge = Joi.object({
  // id → edge → edges → graph
  id: elementId.required().custom(against(3, (g, id) => edgeIndexOf(g).idCount.get(id) === 1, 'graph.duplicateEdge')),
  source: vertexRef.required(),
  sourceOperator: operatorRef.required(),
  target: vertexRef.required(),
  partitioner: Joi.string()
    .valid(...PARTITIONER_KINDS)
    .required(),
  keyedBy: Joi.when('partitioner', {
    is: 'hash',
    then: operatorRef.required(),
    otherwise: Joi.forbidden().messages({ 'any.unknown': '{{#label}} is only allowed on hash edges' }),
  }),
})
  .custom(edgeRule)
  .messages({
    'graph.edgeBackwards': '{{#label}} goes from {{#source}} to {{#target}}, which is not later in the topological order of vertices',
    'graph.edgeWriter': '{{#label}} is written by {{#operator}}, which is not an operator of vertex {{#source}}',
    'graph.edgeNotListed': '{{#label}} is not among the outEdges of its writer {{#operator}}',
    'graph.forwardParallelism': '{{#label}} is a forward edge between parallelisms {{#p}} and {{#q}}; they must be equal',
  });

// ---- the graph ----

/** Keyed by NetworkConfig: a field added there fails to compile until it has a rule here. */
export const networkConfigSchema = Joi.object({
  bufferRecords: count(1).required(),
  bufferTimeoutMs: count(-1).required(),
  exclusiveCredits: count(1).required(),
  floatingCredits: count(0).required(),
  bufferBytes: count(1).required(),
  maxRecordBytes: count(1).required(),
} satisfies Record<keyof NetworkConfig, Joi.Schema>);

const absolutePath = Joi.string()
  .min(2)
  .max(4096)
  .pattern(/^\//)
  .messages({ 'string.pattern.base': '{{#label}} must be an absolute path' });

const checkpointingSchema = Joi.object({
  periodic: Joi.boolean().required(),
  config: Joi.object({
    intervalMs: Joi.number().positive().max(2 ** 31 - 1).required(),
    timeoutMs: Joi.number().positive().max(2 ** 31 - 1).required(),
    minPauseMs: Joi.number().min(0).max(2 ** 31 - 1).required(),
    maxConcurrent: count(1).required(),
    tolerableFailures: count(0).required(),
    mode: Joi.string().valid('exactly-once', 'at-least-once').required(),
    retained: count(1).required(),
  }).required(),
  storage: absolutePath.required(),
  savepoints: absolutePath.required(),
});

const stateBackendSchema = Joi.object({
  kind: Joi.string().valid('heap', 'sqlite').required(),
  incremental: Joi.boolean().required(),
  materializeEvery: count(1),
  sqlite: Joi.object({ dir: absolutePath, cacheEntries: count(1) }),
});

const restartStrategySchema = Joi.any().custom((value: unknown, helpers) => {
  const problem = validateRestartStrategy(value);
  return problem === undefined ? value : helpers.message({ custom: problem.message });
});

export const jobGraphSchema = Joi.object({
  jobId: jobId.required(),
  name: displayName.required(),
  maxParallelism: Joi.number().integer().min(1).max(UPPER_BOUND_MAX_PARALLELISM).required(),
  network: networkConfigSchema.required(),
  vertices: Joi.array().items(vertex).min(1).required(),
  edges: Joi.array().items(edge).required(),
  checkpointing: checkpointingSchema,
  stateBackend: stateBackendSchema,
  restartStrategy: restartStrategySchema,
  restore: Joi.object({ path: absolutePath.required(), allowNonRestoredState: Joi.boolean().required() }),
}).messages(GRAPH_MESSAGES);

export function artifactSchema(bodyLimitBytes: number): Joi.ObjectSchema {
  return Joi.object({
    bundle: Joi.string().min(1).max(bodyLimitBytes).required(),
    entry: Joi.string().min(1).max(MAX_NAME_LENGTH).required(),
    args: Joi.array().items(Joi.string().allow('')).max(MAX_ARGS).required(),
    parallelism: Joi.number().integer().min(1).max(UPPER_BOUND_MAX_PARALLELISM).required(),
  });
}

// ---- route parts ----

export function submitJobBodySchema(bodyLimitBytes: number): Joi.ObjectSchema {
  return Joi.object({ jobGraph: jobGraphSchema.required(), artifact: artifactSchema(bodyLimitBytes).required() }).required();
}

export const jobIdParamsSchema = Joi.object({ jobId: jobId.required() });

/** Routes without query parameters still refuse unknown ones. */
export const noQuerySchema = Joi.object({});

export const cancelQuerySchema = Joi.object({ mode: Joi.string().valid('cancel').default('cancel') });

export const collectedQuerySchema = Joi.object({ from: count(0).default(0) });

/** POST /jobs/:jobId/savepoints (Flink's field names); no body at all (fastify: null) means the defaults. */
export const savepointBodySchema = Joi.object({
  'target-directory': absolutePath,
  'cancel-job': Joi.boolean().default(false),
})
  .empty(null)
  .default({ 'cancel-job': false });
