/**
 * The job's state inside a checkpoint's metadata, and its assignment to the subtasks of a (possibly
 * rescaled) job, pure (Flink's StateAssignmentOperation).
 *
 * Invariants:
 *  1. Operators are matched by operator id (the uid when the user set one). State of an operator the
 *     job does not have is refused (TROUPE_SAVEPOINT_INCOMPATIBLE, naming the metadata file) unless
 *     `allowNonRestoredState`; an operator without state in the checkpoint starts empty.
 *  2. Keyed state: a new subtask gets the handles of every old subtask whose key-group range
 *     overlaps its own; it restores only its own key groups. The max parallelism cannot change.
 *  3. Operator list state: at the same parallelism subtask i gets old subtask i's list; otherwise all
 *     lists are pooled and split again (state/operator-state.ts), so nothing is lost or duplicated.
 */
import { TroupeError } from '../../core/errors.js';
import type { JobGraph } from '../../core/job-graph.js';
import { keyGroupRange } from '../../state/key-groups.js';
import { redistributeOperatorState } from '../../state/operator-state.js';
import type { StateFileHandle } from '../../state/checkpoint-storage/checkpoint-metadata.js';
import { keyedHandleFiles } from '../../state/snapshot/keyed-snapshot.js';
import type { AckedState } from './checkpoint-coordinator.js';
import type { OperatorRestore } from '../protocol/deployment.js';
import type { OperatorSubtaskState, TaskStateSnapshot } from '../protocol/job-master.js';

export const JOB_STATE_FORMAT = 'troupe-job-state/1';

/** `CheckpointMetadata.state` of Troupe's checkpoints and savepoints. */
export interface JobState {
  readonly format: typeof JOB_STATE_FORMAT;
  readonly jobName: string;
  readonly maxParallelism: number;
  readonly operators: Readonly<Record<string, { readonly name: string; readonly parallelism: number; readonly subtasks: ReadonlyArray<OperatorSubtaskState | null> }>>;
}

/** Builds the job state and the list of files from the acks of a checkpoint. */
export function jobStateOf(graph: JobGraph, acks: readonly AckedState<TaskStateSnapshot>[]): { state: JobState; files: StateFileHandle[] } {
  const operators: Record<string, { name: string; parallelism: number; subtasks: Array<OperatorSubtaskState | null> }> = {};
  const files: StateFileHandle[] = [];
  for (const vertex of graph.vertices) {
    for (const op of vertex.operators) operators[op.id] = { name: op.name, parallelism: vertex.parallelism, subtasks: new Array<OperatorSubtaskState | null>(vertex.parallelism).fill(null) };
  }
  for (const { stateHandle } of acks) {
    for (const [id, s] of Object.entries(stateHandle.operators)) {
      const op = operators[id];
      if (op === undefined || stateHandle.subtask >= op.parallelism) continue;
      op.subtasks[stateHandle.subtask] = s;
      if (s.keyed !== undefined) files.push(...keyedHandleFiles(s.keyed));
    }
  }
  for (const id of Object.keys(operators)) if (operators[id]!.subtasks.every((s) => s === null)) delete operators[id];
  return { state: { format: JOB_STATE_FORMAT, jobName: graph.name, maxParallelism: graph.maxParallelism, operators }, files };
}

/** Checks the shape of a metadata file's state; `file` names it in errors. */
export function parseJobState(state: unknown, file: string): JobState {
  const s = state as Partial<JobState> | null;
  if (s === null || typeof s !== 'object' || s.format !== JOB_STATE_FORMAT || typeof s.operators !== 'object' || s.operators === null || !Number.isInteger(s.maxParallelism)) {
    throw new TroupeError('TROUPE_CHECKPOINT_CORRUPT', `${file} does not hold Troupe job state (format ${JSON.stringify((s as { format?: unknown } | null)?.format)})`, { details: { reason: 'bad-metadata', file } });
  }
  for (const [id, op] of Object.entries(s.operators)) {
    if (op === null || typeof op !== 'object' || !Number.isInteger(op.parallelism) || op.parallelism < 1 || !Array.isArray(op.subtasks) || op.subtasks.length !== op.parallelism) {
      throw new TroupeError('TROUPE_CHECKPOINT_CORRUPT', `${file}: state of operator ${id} is malformed`, { details: { reason: 'bad-metadata', file, operator: id } });
    }
  }
  return s as JobState;
}

/**
 * Per vertex and subtask: the OperatorRestore of each operator that has state (invariants 1-3).
 * Key: `${vertexId}#${subtask}`.
 */
export function assignState(graph: JobGraph, state: JobState, file: string, allowNonRestoredState: boolean): Map<string, Record<string, OperatorRestore>> {
  const known = new Set<string>(graph.vertices.flatMap((v) => v.operators.map((o) => o.id)));
  const unknown = Object.keys(state.operators).filter((id) => !known.has(id));
  if (unknown.length > 0 && !allowNonRestoredState) {
    throw new TroupeError(
      'TROUPE_SAVEPOINT_INCOMPATIBLE',
      `${file} holds state for operator${unknown.length === 1 ? '' : 's'} ${unknown.map((id) => `${id} (${state.operators[id]!.name})`).join(', ')}, which this job does not have; match them with uid(...) or allow non-restored state`,
      { details: { file, operators: unknown } },
    );
  }
  const hasKeyed = Object.values(state.operators).some((op) => op.subtasks.some((s) => s?.keyed !== undefined));
  if (hasKeyed && state.maxParallelism !== graph.maxParallelism) {
    throw new TroupeError('TROUPE_SAVEPOINT_INCOMPATIBLE', `${file} was taken with max parallelism ${state.maxParallelism}, this job has ${graph.maxParallelism}: key groups cannot be mapped`, {
      details: { file, savepoint: state.maxParallelism, job: graph.maxParallelism },
    });
  }
  const out = new Map<string, Record<string, OperatorRestore>>();
  for (const vertex of graph.vertices) {
    const p = vertex.parallelism;
    for (let i = 0; i < p; i++) out.set(`${vertex.id}#${i}`, {});
    for (const op of vertex.operators) {
      const old = state.operators[op.id];
      if (old === undefined) continue;
      const keyedOld = old.subtasks.map((s) => s?.keyed).filter((h) => h !== undefined);
      const lists = old.subtasks.map((s) => [...(s?.operatorState ?? [])]);
      const hasLists = old.subtasks.some((s) => s?.operatorState !== undefined);
      const split = !hasLists ? null : old.parallelism === p ? lists : redistributeOperatorState(lists, p);
      for (let i = 0; i < p; i++) {
        const range = keyGroupRange(graph.maxParallelism, p, i);
        const keyed = keyedOld.filter((h) => h.range.start <= range.end && h.range.end >= range.start);
        const entry: OperatorRestore = {
          ...(keyed.length > 0 ? { keyed } : {}),
          ...(split !== null ? { operatorState: split[i]! } : {}),
        };
        if (entry.keyed !== undefined || entry.operatorState !== undefined) out.get(`${vertex.id}#${i}`)![op.id] = entry;
      }
    }
  }
  return out;
}
