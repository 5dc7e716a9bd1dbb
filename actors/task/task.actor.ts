/** The actor shell of one subtask: feeds messages to its StreamTask, reports to the JobMaster. */
import { systemClock } from '../../core/clock.js';
import type { ErrorRecord } from '../../core/errors.js';
import type { JobMasterHandle } from '../protocol/job-master.js';
import type { TaskAsk, TaskReplies, TaskTell } from '../protocol/task.js';
import type { TaskDeploymentDescriptor } from '../protocol/deployment.js';
import { ActorShell, type AskHandlers, type TellHandlers } from '../runtime/typed-actor.js';
import type { DataPlaneRouter } from '../task-executor/task-directory.js';
import { StreamTask } from './stream-task.js';
import type { JobUserCode } from './user-code.js';

export interface TaskParams {
  readonly tdd: TaskDeploymentDescriptor;
  readonly userCode: JobUserCode;
  readonly router: DataPlaneRouter;
  readonly jobMaster: JobMasterHandle;
}

export class TaskActor extends ActorShell<TaskParams, TaskTell, TaskAsk, TaskReplies> {
  private task!: StreamTask;

  protected override onStart(): void {
    const { tdd, router, jobMaster } = this.params;
    this.task = new StreamTask(tdd, this.params.userCode, {
      clock: systemClock,
      send: (to, message) => router.send(to, message),
      isRemote: (to) => router.isRemote(to),
      collect: (operatorId, records) => jobMaster.tell({ type: 'collect', operatorId, records }),
      schedule: (fn) => setImmediate(fn),
      setInterval: (fn, ms) => {
        const t = setInterval(fn, ms);
        return () => clearInterval(t);
      },
      terminated: (state: 'finished' | 'failed' | 'canceled', error?: ErrorRecord) =>
        jobMaster.tell({
          type: 'task-state',
          attemptId: tdd.attemptId,
          state,
          ...(error !== undefined ? { error } : {}),
          metrics: this.task.metrics(),
        }),
      acknowledge: (checkpointId, state) => jobMaster.tell({ type: 'acknowledge-checkpoint', checkpointId, attemptId: tdd.attemptId, state }),
      decline: (checkpointId, reason) => jobMaster.tell({ type: 'decline-checkpoint', checkpointId, attemptId: tdd.attemptId, reason }),
    });
  }

  protected readonly tells: TellHandlers<TaskTell> = {
    buffer: (m) => this.task.onData(m),
    event: (m) => this.task.onData(m),
    credit: (m) => this.task.onData(m),
    start: () => this.task.start(),
    cancel: () => this.task.cancel(),
    'trigger-checkpoint': (m) => this.task.triggerCheckpoint(m.checkpointId, m.timestamp, m.savepoint),
    'notify-checkpoint': (m) => this.task.notifyCheckpoint(m.checkpointId, m.outcome),
  };

  protected readonly asks: AskHandlers<TaskAsk, TaskReplies> = {
    open: async () => {
      await this.task.open();
      return true as const;
    },
    metrics: () => this.task.metrics(),
  };

  protected override onStop(): void {
    this.task?.cancel();
  }
}
