/** A TaskExecutor: offers slots, runs one Task actor per deployed subtask. */
import { TroupeError } from '../../core/errors.js';
import type { ExecutionAttemptId, JobId, TaskExecutorId } from '../../core/ids.js';
import type { TaskExecutorAsk, TaskExecutorReplies, TaskExecutorTell } from '../protocol/task-executor.js';
import type { TaskHandle } from '../protocol/task.js';
import { ActorShell, type AskHandlers, type TellHandlers } from '../runtime/typed-actor.js';
import { TaskActor, type TaskParams } from '../task/task.actor.js';
import type { UserCodeResolver } from '../task/user-code.js';
import type { LocalTaskDirectory } from './local-task-directory.js';

export interface TaskExecutorParams {
  readonly id: TaskExecutorId;
  readonly slots: number;
  readonly directory: LocalTaskDirectory;
  readonly userCode: UserCodeResolver;
}

interface RunningTask {
  readonly jobId: JobId;
  readonly handle: TaskHandle;
}

export class TaskExecutorActor extends ActorShell<TaskExecutorParams, TaskExecutorTell, TaskExecutorAsk, TaskExecutorReplies> {
  private readonly tasks = new Map<ExecutionAttemptId, RunningTask>();

  protected readonly tells: TellHandlers<TaskExecutorTell> = {
    'start-task': (m) => this.tasks.get(m.attemptId)?.handle.tell({ type: 'start' }),
    'cancel-task': (m) => this.tasks.get(m.attemptId)?.handle.tell({ type: 'cancel' }),
  };

  protected readonly asks: AskHandlers<TaskExecutorAsk, TaskExecutorReplies> = {
    'submit-task': async ({ tdd, jobMaster }) => {
      const userCode = this.params.userCode.resolve(tdd.jobId);
      if (userCode === undefined) throw new TroupeError('TROUPE_JOB_NOT_FOUND', `no user code for job ${tdd.jobId} on ${this.params.id}`);
      const params: TaskParams = { tdd, userCode, router: this.params.directory, jobMaster };
      const handle: TaskHandle = await this.spawn(TaskActor, params, `task ${tdd.attemptId}`);
      this.tasks.set(tdd.attemptId, { jobId: tdd.jobId, handle });
      this.params.directory.register(tdd.attemptId, handle);
      await handle.ask({ type: 'open' }, 60_000);
      return true as const;
    },
    'release-job': async ({ jobId }) => {
      const gone: Promise<void>[] = [];
      for (const [attempt, t] of this.tasks) {
        if (t.jobId !== jobId) continue;
        this.params.directory.unregister(attempt);
        this.tasks.delete(attempt);
        gone.push(t.handle.destroy());
      }
      await Promise.allSettled(gone);
      return true as const;
    },
    'task-metrics': async ({ jobId }) => {
      const all = [...this.tasks.values()].filter((t) => t.jobId === jobId).map((t) => t.handle.ask({ type: 'metrics' }));
      return Promise.all(all);
    },
  };
}
