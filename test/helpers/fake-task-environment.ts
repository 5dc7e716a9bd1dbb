/** A StreamTask environment for tests: records what the task sends and ends with, runs slices on demand. */
import { ManualClock } from '../../core/clock.js';
import type { ErrorRecord } from '../../core/errors.js';
import type { ExecutionAttemptId } from '../../core/ids.js';
import type { DataPlaneMessage } from '../../actors/protocol/data-plane.js';
import type { TaskEnvironment } from '../../actors/task/stream-task.js';

export interface FakeTaskEnvironment {
  readonly env: TaskEnvironment;
  /** Everything the task sent, in order. */
  readonly sent: Array<[ExecutionAttemptId, DataPlaneMessage]>;
  readonly ended: Array<{ state: string; error?: ErrorRecord }>;
  /** Runs scheduled loop slices until none is left. */
  readonly run: () => void;
}

export function fakeTaskEnvironment(): FakeTaskEnvironment {
  const sent: Array<[ExecutionAttemptId, DataPlaneMessage]> = [];
  const ended: Array<{ state: string; error?: ErrorRecord }> = [];
  const scheduled: Array<() => void> = [];
  const env: TaskEnvironment = {
    clock: new ManualClock(),
    send: (to, m) => void sent.push([to, m]),
    collect: () => undefined,
    schedule: (fn) => void scheduled.push(fn),
    setInterval: () => () => undefined,
    terminated: (state, error) => void ended.push(error === undefined ? { state } : { state, error }),
  };
  const run = (): void => {
    while (scheduled.length > 0) scheduled.shift()!();
  };
  return { env, sent, ended, run };
}
