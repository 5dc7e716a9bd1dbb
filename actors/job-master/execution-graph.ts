/**
 * Expands a job graph into executions (one per subtask) and their deployment descriptors.
 * Slot sharing: subtask i of every vertex goes to shared slot i, so a job needs as many slots as
 * its largest vertex parallelism (Flink's default slot sharing group).
 */
import { TroupeError } from '../../core/errors.js';
import { executionAttemptId, type ExecutionAttemptId, type VertexId } from '../../core/ids.js';
import { channelsOf, inputEdges, outputEdges, vertexById, type JobGraph } from '../../core/job-graph.js';
import type { TaskDeploymentDescriptor } from '../protocol/deployment.js';

export interface Execution {
  readonly attemptId: ExecutionAttemptId;
  readonly vertex: VertexId;
  readonly subtask: number;
  readonly slot: number;
  readonly tdd: TaskDeploymentDescriptor;
}

export function slotsNeeded(graph: JobGraph): number {
  return Math.max(...graph.vertices.map((v) => v.parallelism));
}

export function buildExecutions(graph: JobGraph, attempt = 0): Execution[] {
  const idOf = (vertex: VertexId, subtask: number): ExecutionAttemptId => executionAttemptId(graph.jobId, vertex, subtask, attempt);
  const executions: Execution[] = [];
  for (const vertex of graph.vertices) {
    for (let subtask = 0; subtask < vertex.parallelism; subtask++) {
      const inputs = inputEdges(graph, vertex.id).map((edge) => {
        const producer = vertexById(graph, edge.source);
        if (edge.partitioner === 'forward' && producer.parallelism !== vertex.parallelism) {
          throw new TroupeError('TROUPE_INVALID_JOB_GRAPH', `forward edge ${producer.name} -> ${vertex.name} changes parallelism`);
        }
        const n = channelsOf(graph, edge);
        const producers = edge.partitioner === 'forward' ? [idOf(producer.id, subtask)] : Array.from({ length: n }, (_, i) => idOf(producer.id, i));
        return { edge: edge.id, partitioner: edge.partitioner, producers };
      });
      const outputs = outputEdges(graph, vertex.id).map((edge) => {
        const consumer = vertexById(graph, edge.target);
        const consumers =
          edge.partitioner === 'forward' ? [idOf(consumer.id, subtask)] : Array.from({ length: consumer.parallelism }, (_, i) => idOf(consumer.id, i));
        return {
          edge: edge.id,
          sourceOperator: edge.sourceOperator,
          partitioner: edge.partitioner,
          ...(edge.keyedBy !== undefined ? { keyedBy: edge.keyedBy } : {}),
          consumers,
        };
      });
      const attemptId = idOf(vertex.id, subtask);
      executions.push({
        attemptId,
        vertex: vertex.id,
        subtask,
        slot: subtask,
        tdd: {
          jobId: graph.jobId,
          jobName: graph.name,
          attemptId,
          vertex,
          subtask,
          attempt,
          maxParallelism: graph.maxParallelism,
          network: graph.network,
          inputs,
          outputs,
          locations: {},
        },
      });
    }
  }
  return executions;
}
