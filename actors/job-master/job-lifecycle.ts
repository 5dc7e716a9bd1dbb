/**
 * The job status state machine, pure: (state, event) → (state, effects).
 *
 *   created ─deployed→ running ─all finished→ finished
 *      │                  │ task failed → failing ─all tasks terminal→ failed
 *      │                  │ cancel      → cancelling ─all terminal→ cancelled
 *      └ deploy failed / cancel ──────────→ (failing | cancelling) as above
 *
 * Invariants:
 *  1. Exactly one `terminated` effect per job, and nothing after it.
 *  2. The first failure is the job's error; later ones (often consequences) are ignored.
 *  3. A job is terminal only when none of its tasks can still run.
 */
import type { ErrorRecord } from '../../core/errors.js';
import type { ExecutionAttemptId } from '../../core/ids.js';
import type { ExecutionState, JobStatus } from '../protocol/job-status.js';

export interface LifecycleState {
  readonly status: JobStatus;
  readonly executions: Readonly<Record<string, ExecutionState>>;
  readonly error?: ErrorRecord;
}

export type LifecycleEvent =
  | { readonly type: 'deployed' }
  | { readonly type: 'deploy-failed'; readonly error: ErrorRecord }
  | { readonly type: 'task-state'; readonly attemptId: ExecutionAttemptId; readonly state: ExecutionState; readonly error?: ErrorRecord }
  | { readonly type: 'cancel' }
  /** The job fails for a reason of its own (e.g. too many failed checkpoints). */
  | { readonly type: 'fail'; readonly error: ErrorRecord }
  /** Tasks that did not confirm cancellation in time are given up on. */
  | { readonly type: 'cancel-timeout' };

export type LifecycleEffect =
  | { readonly type: 'start-tasks' }
  | { readonly type: 'cancel-tasks'; readonly attempts: readonly ExecutionAttemptId[] }
  | { readonly type: 'terminated'; readonly status: 'finished' | 'failed' | 'cancelled'; readonly error?: ErrorRecord };

const TERMINAL_TASK: readonly ExecutionState[] = ['finished', 'canceled', 'failed'];
const isTerminalTask = (s: ExecutionState): boolean => TERMINAL_TASK.includes(s);

export function initialLifecycle(attempts: readonly ExecutionAttemptId[]): LifecycleState {
  return { status: 'created', executions: Object.fromEntries(attempts.map((a) => [a, 'deploying'])) };
}

export function step(state: LifecycleState, event: LifecycleEvent): { state: LifecycleState; effects: LifecycleEffect[] } {
  const terminal = state.status === 'finished' || state.status === 'failed' || state.status === 'cancelled';
  if (terminal) return { state, effects: [] };
  switch (event.type) {
    case 'deployed':
      if (state.status !== 'created') return { state, effects: [] };
      return {
        state: { ...state, status: 'running', executions: mapAll(state.executions, (s) => (s === 'deploying' ? 'running' : s)) },
        effects: [{ type: 'start-tasks' }],
      };
    case 'deploy-failed':
      if (state.status === 'failing' || state.status === 'cancelling') return settle(state);
      return beginStop(state, 'failing', event.error);
    case 'cancel':
      if (state.status === 'cancelling' || state.status === 'failing') return { state, effects: [] };
      return beginStop(state, 'cancelling', undefined);
    case 'fail':
      if (state.status === 'cancelling' || state.status === 'failing') return { state, effects: [] };
      return beginStop(state, 'failing', event.error);
    case 'task-state': {
      const previous = state.executions[event.attemptId];
      if (previous === undefined || isTerminalTask(previous)) return { state, effects: [] };
      const next: LifecycleState = { ...state, executions: { ...state.executions, [event.attemptId]: event.state } };
      const stopping = state.status === 'failing' || state.status === 'cancelling';
      if (event.state === 'failed' && !stopping) {
        const error = event.error ?? { code: 'TROUPE_TASK_FAILED', message: `task ${event.attemptId} failed` };
        return beginStop(next, 'failing', error);
      }
      if (event.state === 'canceled' && state.status === 'running') {
        // nobody asked for it: a task that stops on its own must not leave the job running forever
        return beginStop(next, 'failing', { code: 'TROUPE_TASK_FAILED', message: `task ${event.attemptId} was cancelled while the job was running` });
      }
      return settle(next);
    }
    case 'cancel-timeout':
      if (state.status !== 'failing' && state.status !== 'cancelling') return { state, effects: [] };
      return settle({ ...state, executions: mapAll(state.executions, (s) => (isTerminalTask(s) ? s : 'canceled')) });
  }
}

function beginStop(state: LifecycleState, status: 'failing' | 'cancelling', error: ErrorRecord | undefined): { state: LifecycleState; effects: LifecycleEffect[] } {
  const live = Object.entries(state.executions)
    .filter(([, s]) => !isTerminalTask(s))
    .map(([a]) => a as ExecutionAttemptId);
  const next: LifecycleState = {
    status,
    executions: mapAll(state.executions, (s) => (isTerminalTask(s) ? s : 'canceling')),
    ...(state.error !== undefined ? { error: state.error } : error !== undefined ? { error } : {}),
  };
  const settled = settle(next);
  return { state: settled.state, effects: live.length > 0 ? [{ type: 'cancel-tasks', attempts: live }, ...settled.effects] : settled.effects };
}

function settle(state: LifecycleState): { state: LifecycleState; effects: LifecycleEffect[] } {
  const states = Object.values(state.executions);
  if (!states.every(isTerminalTask)) return { state, effects: [] };
  let status: 'finished' | 'failed' | 'cancelled';
  if (state.status === 'failing') status = 'failed';
  else if (state.status === 'cancelling') status = 'cancelled';
  else if (state.status === 'running' && states.every((s) => s === 'finished')) status = 'finished';
  else return { state, effects: [] };
  return {
    state: { ...state, status },
    effects: [{ type: 'terminated', status, ...(state.error !== undefined ? { error: state.error } : {}) }],
  };
}

function mapAll(executions: Readonly<Record<string, ExecutionState>>, f: (s: ExecutionState) => ExecutionState): Record<string, ExecutionState> {
  const out: Record<string, ExecutionState> = {};
  for (const [k, v] of Object.entries(executions)) out[k] = f(v);
  return out;
}
