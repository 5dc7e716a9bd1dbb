/** The JobMaster of one job: allocates slots, deploys tasks, follows them to a terminal state. */
import { toErrorRecord } from '../../core/errors.js';
import type { ExecutionAttemptId, TaskExecutorId } from '../../core/ids.js';
import type { JobGraph } from '../../core/job-graph.js';
import type { DispatcherHandle } from '../protocol/dispatcher.js';
import type { JobMasterAsk, JobMasterHandle, JobMasterReplies, JobMasterTell } from '../protocol/job-master.js';
import type { JobResult, OperatorMetrics, TaskMetrics } from '../protocol/job-status.js';
import type { ResourceManagerHandle } from '../protocol/resource-manager.js';
import type { TaskExecutorHandle } from '../protocol/task-executor.js';
import type { ActorAddress } from '../runtime/handle.js';
import { ActorHandle, ActorShell, type AskHandlers, type TellHandlers } from '../runtime/typed-actor.js';
import type { LocalEndpoint } from '../transport/endpoint.js';
import { buildExecutions, slotsNeeded, type Execution } from './execution-graph.js';
import { initialLifecycle, step, type LifecycleEffect, type LifecycleEvent, type LifecycleState } from './job-lifecycle.js';

export interface JobMasterParams {
  readonly jobGraph: JobGraph;
  readonly endpoint: LocalEndpoint;
  readonly resourceManager: ResourceManagerHandle;
  readonly dispatcher: DispatcherHandle;
  readonly cancelTimeoutMs?: number;
}

export class JobMasterActor extends ActorShell<JobMasterParams, JobMasterTell, JobMasterAsk, JobMasterReplies> {
  private self!: ActorAddress;
  private executions: Execution[] = [];
  private readonly placement = new Map<ExecutionAttemptId, TaskExecutorHandle>();
  private readonly placedOn = new Map<ExecutionAttemptId, TaskExecutorId>();
  private readonly executors = new Map<TaskExecutorId, TaskExecutorHandle>();
  /** CollectSink records in arrival order (clients stream them), and the sink each came from. */
  private readonly collectedLog: unknown[] = [];
  private readonly collectedFrom: string[] = [];
  private lifecycle: LifecycleState = initialLifecycle([]);
  private readonly finalMetrics = new Map<ExecutionAttemptId, TaskMetrics>();
  private readonly startTime = Date.now();
  private slotsHeld = false;
  private cancelTimer: NodeJS.Timeout | null = null;

  protected override onStart(): void {
    const handle: JobMasterHandle = new ActorHandle<JobMasterTell, JobMasterAsk, JobMasterReplies>(this.actor, `jobmaster ${this.params.jobGraph.jobId}`);
    this.self = this.params.endpoint.register(jobMasterName(this.params.jobGraph.jobId), handle);
    this.tell({ type: 'schedule' }); // own mailbox: comedy refuses sends before initialize ends
  }

  protected override onStop(): void {
    this.params.endpoint.unregister(jobMasterName(this.params.jobGraph.jobId));
  }

  protected readonly tells: TellHandlers<JobMasterTell> = {
    schedule: () => this.schedule(),
    'task-state': (m) => {
      if (m.metrics !== undefined) this.finalMetrics.set(m.attemptId, m.metrics);
      return this.apply({ type: 'task-state', attemptId: m.attemptId, state: m.state, ...(m.error !== undefined ? { error: m.error } : {}) });
    },
    collect: (m) => {
      for (const r of m.records) {
        this.collectedLog.push(r);
        this.collectedFrom.push(m.operatorId);
      }
    },
    'task-executor-lost': async ({ taskExecutor, error }) => {
      this.executors.delete(taskExecutor);
      for (const [attemptId, te] of this.placedOn) {
        if (te !== taskExecutor) continue;
        const state = this.lifecycle.executions[attemptId];
        if (state === undefined || state === 'finished' || state === 'failed' || state === 'canceled') continue;
        await this.apply({ type: 'task-state', attemptId, state: 'failed', error });
      }
    },
    'cancel-timeout': () => this.apply({ type: 'cancel-timeout' }),
  };

  protected override readonly queries: ReadonlySet<JobMasterAsk['type']> = new Set(['status', 'metrics', 'collected'] as const);

  protected readonly asks: AskHandlers<JobMasterAsk, JobMasterReplies> = {
    status: () => ({
      jobId: this.params.jobGraph.jobId,
      name: this.params.jobGraph.name,
      status: this.lifecycle.status,
      startTime: this.startTime,
      tasks: Object.entries(this.lifecycle.executions).map(([attemptId, state]) => ({ attemptId: attemptId as ExecutionAttemptId, state })),
    }),
    cancel: async () => {
      await this.apply({ type: 'cancel' });
      return true as const;
    },
    metrics: () => this.collectMetrics(),
    collected: ({ from }) => ({ records: this.collectedLog.slice(from), next: this.collectedLog.length }),
  };

  private async schedule(): Promise<void> {
    const graph = this.params.jobGraph;
    const submitted = new Set<ExecutionAttemptId>();
    try {
      this.executions = buildExecutions(graph);
      this.lifecycle = initialLifecycle(this.executions.map((e) => e.attemptId));
      const slots = await this.params.resourceManager.ask({ type: 'request-slots', jobId: graph.jobId, count: slotsNeeded(graph), jobMaster: this.self });
      this.slotsHeld = true;
      const locations: Record<string, string> = {};
      for (const e of this.executions) {
        const slot = slots[e.slot]!;
        let te = this.executors.get(slot.taskExecutor);
        if (te === undefined) {
          te = this.params.endpoint.ref(slot.address, `taskexecutor ${slot.taskExecutor}`);
          this.executors.set(slot.taskExecutor, te);
        }
        this.placement.set(e.attemptId, te);
        this.placedOn.set(e.attemptId, slot.taskExecutor);
        locations[e.attemptId] = slot.address.endpoint;
      }
      await Promise.all(
        this.executions.map(async (e) => {
          const peers: Record<string, string> = {};
          for (const g of e.tdd.inputs) for (const p of g.producers) peers[p] = locations[p]!;
          for (const o of e.tdd.outputs) for (const c of o.consumers) peers[c] = locations[c]!;
          const tdd = { ...e.tdd, locations: peers };
          await this.placement.get(e.attemptId)!.ask({ type: 'submit-task', tdd, jobMaster: this.self }, 60_000);
          submitted.add(e.attemptId);
        }),
      );
      await this.apply({ type: 'deployed' });
    } catch (error) {
      await this.apply({ type: 'deploy-failed', error: toErrorRecord(error, 'TROUPE_TASK_FAILED') });
      // tasks that never reached their TaskExecutor will not report: they are cancelled here
      for (const e of this.executions) {
        if (!submitted.has(e.attemptId)) await this.apply({ type: 'task-state', attemptId: e.attemptId, state: 'canceled' });
      }
    }
  }

  private async apply(event: LifecycleEvent): Promise<void> {
    const before = this.lifecycle.status;
    const { state, effects } = step(this.lifecycle, event);
    this.lifecycle = state;
    if (state.status !== before) this.params.dispatcher.tell({ type: 'job-status-changed', jobId: this.params.jobGraph.jobId, status: state.status });
    for (const effect of effects) await this.execute(effect);
  }

  private async execute(effect: LifecycleEffect): Promise<void> {
    switch (effect.type) {
      case 'start-tasks':
        for (const e of this.executions) this.placement.get(e.attemptId)?.tell({ type: 'start-task', attemptId: e.attemptId });
        return;
      case 'cancel-tasks':
        for (const a of effect.attempts) this.placement.get(a)?.tell({ type: 'cancel-task', attemptId: a });
        this.cancelTimer ??= setTimeout(() => this.tell({ type: 'cancel-timeout' }), this.params.cancelTimeoutMs ?? 10_000);
        return;
      case 'terminated':
        if (this.cancelTimer !== null) clearTimeout(this.cancelTimer);
        await this.finish(effect.status, effect.error);
        return;
    }
  }

  private async finish(status: JobResult['status'], error: JobResult['error']): Promise<void> {
    const graph = this.params.jobGraph;
    await Promise.allSettled([...this.executors.values()].map((te) => te.ask({ type: 'release-job', jobId: graph.jobId }, 5_000)));
    if (this.slotsHeld) await this.params.resourceManager.ask({ type: 'free-slots', jobId: graph.jobId }).catch(() => 0);
    const tasks = this.executions.map((e) => this.finalMetrics.get(e.attemptId)).filter((m): m is TaskMetrics => m !== undefined);
    const endTime = Date.now();
    const result: JobResult = {
      jobId: graph.jobId,
      name: graph.name,
      status,
      startTime: this.startTime,
      endTime,
      durationMs: endTime - this.startTime,
      operators: operatorMetrics(graph, tasks),
      tasks,
      ...(error !== undefined ? { error } : {}),
      collected: this.collectedBySink(),
    };
    this.params.dispatcher.tell({ type: 'job-terminated', result, collectedInOrder: this.collectedLog });
  }

  private collectedBySink(): Record<string, unknown[]> {
    const by: Record<string, unknown[]> = {};
    this.collectedLog.forEach((r, i) => (by[this.collectedFrom[i]!] ??= []).push(r));
    return by;
  }

  private async collectMetrics(): Promise<TaskMetrics[]> {
    const replies = await Promise.allSettled([...this.executors.values()].map((te) => te.ask({ type: 'task-metrics', jobId: this.params.jobGraph.jobId }, 5_000)));
    const live = replies.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
    const byAttempt = new Map(live.map((m) => [m.attemptId, m]));
    for (const [a, m] of this.finalMetrics) byAttempt.set(a, m);
    return [...byAttempt.values()];
  }
}

export function jobMasterName(jobId: string): string {
  return `jobmaster/${jobId}`;
}

export function operatorMetrics(graph: JobGraph, tasks: readonly TaskMetrics[]): OperatorMetrics[] {
  const out: OperatorMetrics[] = [];
  for (const vertex of graph.vertices) {
    const vt = tasks.filter((t) => t.vertex === vertex.id);
    vertex.operators.forEach((op, i) => {
      let recordsIn = 0;
      let recordsOut = 0;
      for (const t of vt) {
        recordsIn += t.operators[i]?.recordsIn ?? 0;
        recordsOut += t.operators[i]?.recordsOut ?? 0;
      }
      out.push({ id: op.id, name: op.name, vertex: vertex.id, parallelism: vertex.parallelism, recordsIn, recordsOut });
    });
  }
  return out;
}
