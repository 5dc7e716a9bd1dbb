/**
 * The JobMaster of one job: allocates slots, deploys tasks, follows them to a terminal state; runs
 * the CheckpointCoordinator (checkpoint-coordinator.ts) and restarts the job from its latest
 * completed checkpoint when a task fails and the restart strategy allows.
 *
 * Invariants:
 *  1. Coordinator steps are synchronous: events from the mailbox, from timers and from finished
 *     storage writes are applied one at a time, and each step's effects are dispatched before the next.
 *  2. A checkpoint is announced complete only after its _metadata is written and the JobManager store
 *     recorded it.
 *  3. Every attempt of the job has its own epoch (attempt + 1), registered in the checkpoint storage
 *     before its tasks deploy: writers of older attempts are fenced.
 *  5. The job's result is announced only after its metadata writes and discards settled.
 *  4. A restart deploys every task again (attempt + 1) with the state of the latest completed
 *     checkpoint, or of the savepoint the job started from when none completed yet.
 */
import { basename, dirname, join } from 'node:path';
import { systemTimers, type Timers } from '../../core/clock.js';
import { toErrorRecord, TroupeError, type ErrorRecord } from '../../core/errors.js';
import type { ExecutionAttemptId, TaskExecutorId } from '../../core/ids.js';
import type { JobGraph } from '../../core/job-graph.js';
import type { DispatcherHandle } from '../protocol/dispatcher.js';
import type { JobMasterAsk, JobMasterHandle, JobMasterReplies, JobMasterTell } from '../protocol/job-master.js';
import type { JobResult, OperatorMetrics, TaskMetrics } from '../protocol/job-status.js';
import type { ResourceManagerHandle, SlotAllocation } from '../protocol/resource-manager.js';
import type { TaskExecutorHandle } from '../protocol/task-executor.js';
import type { ActorAddress } from '../runtime/handle.js';
import { ActorHandle, ActorShell, type AskHandlers, type TellHandlers } from '../runtime/typed-actor.js';
import type { LocalEndpoint } from '../transport/endpoint.js';
import { buildExecutions, slotsNeeded, type Execution } from './execution-graph.js';
import { initialLifecycle, step, type LifecycleEffect, type LifecycleEvent, type LifecycleState } from './job-lifecycle.js';
import { initialCoordinator, nextTickAt, latestCompleted, stepCoordinator, type CoordinatorEffect, type CoordinatorEvent, type CoordinatorState } from './checkpoint-coordinator.js';
import { decideRestart, DEFAULT_RESTART_STRATEGY, initialRestartState, restarted, type RestartState } from './restart-strategy.js';
import { assignState, jobStateOf, parseJobState } from './state-assignment.js';
import type { TaskStateSnapshot } from '../protocol/job-master.js';
import type { TaskRestore } from '../protocol/deployment.js';
import { isMemoryStorage, openCheckpointStore } from '../../state/checkpoint-storage/open-store.js';
import { JobCheckpointStorage, openSavepoint, savepointDirName, checkpointDirName } from '../../state/checkpoint-storage/job-checkpoint-storage.js';
import type { CompletedCheckpoint } from '../../state/checkpoint-storage/checkpoint-metadata.js';
import { keyedHandleFiles } from '../../state/snapshot/keyed-snapshot.js';
import { JobManagerStore } from '../../state/metadata-store.js';

/** Where a restart or first deployment restores from. */
interface RestorePoint {
  readonly checkpoint: CompletedCheckpoint;
  /** Store root directory the checkpoint's base is relative to. */
  readonly root: string;
  /** The _metadata file, for error messages. */
  readonly file: string;
  readonly allowNonRestoredState: boolean;
}

interface SavepointRequest {
  readonly dir: string;
  readonly stop: boolean;
  resolve(path: string): void;
  reject(error: ErrorRecord): void;
}

const MAX_TIMER_MS = 2 ** 31 - 1;
/** TROUPE_DEBUG_CHECKPOINTS=1 logs every coordinator effect. */
const DEBUG_CHECKPOINTS = process.env.TROUPE_DEBUG_CHECKPOINTS === '1';
/** How long a restart waits for enough slots (Flink's slot request timeout). */
const SLOT_WAIT_MS = 30_000;

export interface JobMasterParams {
  readonly jobGraph: JobGraph;
  readonly endpoint: LocalEndpoint;
  readonly resourceManager: ResourceManagerHandle;
  readonly dispatcher: DispatcherHandle;
  readonly cancelTimeoutMs?: number;
  /** The clock and timers of the CheckpointCoordinator (tests drive them by hand). */
  readonly timers?: Timers;
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
  /** 0 at first, +1 per restart; the checkpoint epoch is attempt + 1. */
  private attempt = 0;
  private coordinator: CoordinatorState<TaskStateSnapshot> | null = null;
  private storage: JobCheckpointStorage | null = null;
  private jmStore: Promise<JobManagerStore | null> | null = null;
  private cancelTick: (() => void) | null = null;
  private restartState: RestartState = initialRestartState();
  private restartTimer: NodeJS.Timeout | null = null;
  private readonly savepointRequests = new Map<string, SavepointRequest>();
  private readonly savepointDirs = new Map<number, string>();
  /** Completed savepoints by checkpoint id: the coordinator may make one the restore point. */
  private readonly completedSavepoints = new Map<number, string>();
  private requestCounter = 0;
  private ended = false;
  /** Metadata writes and discards in flight. */
  private readonly storageWork = new Set<Promise<void>>();

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
      if (m.state === 'finished' || m.state === 'failed' || m.state === 'canceled') {
        // a task that stopped cannot take part in checkpoints any more (Flink 1.5): stop triggering
        if (this.coordinator?.phase === 'running' && this.lifecycle.executions[m.attemptId] !== undefined) this.stepCoordinator({ type: 'suspend', now: this.now() });
      }
      return this.apply({ type: 'task-state', attemptId: m.attemptId, state: m.state, ...(m.error !== undefined ? { error: m.error } : {}) });
    },
    'acknowledge-checkpoint': (m) => {
      if (this.coordinator === null) return;
      this.stepCoordinator({ type: 'ack', checkpointId: m.checkpointId, attemptId: m.attemptId, stateHandle: m.state, now: this.now() });
    },
    'decline-checkpoint': (m) => {
      if (this.coordinator === null) return;
      this.stepCoordinator({ type: 'decline', checkpointId: m.checkpointId, attemptId: m.attemptId, reason: m.reason, now: this.now() });
    },
    'checkpoint-tick': () => {
      this.cancelTick = null;
      if (this.coordinator !== null) this.stepCoordinator({ type: 'tick', now: this.now() });
    },
    restart: () => this.restart(),
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

  protected override readonly queries: ReadonlySet<JobMasterAsk['type']> = new Set(['status', 'metrics', 'collected', 'trigger-savepoint', 'checkpoints'] as const);

  protected readonly asks: AskHandlers<JobMasterAsk, JobMasterReplies> = {
    status: () => ({
      jobId: this.params.jobGraph.jobId,
      name: this.params.jobGraph.name,
      status: this.lifecycle.status,
      startTime: this.startTime,
      tasks: Object.entries(this.lifecycle.executions).map(([attemptId, state]) => ({ attemptId: attemptId as ExecutionAttemptId, state })),
    }),
    cancel: async () => {
      if (this.restartTimer !== null) {
        // between two attempts: no task runs, the job ends here
        clearTimeout(this.restartTimer);
        this.restartTimer = null;
        await this.finish('cancelled', undefined);
        return true as const;
      }
      await this.apply({ type: 'cancel' });
      return true as const;
    },
    'trigger-savepoint': ({ dir, stop }) => this.triggerSavepoint(dir, stop),
    checkpoints: async () => {
      const store = await this.metadataStore();
      const history = store === null ? [] : await store.list(this.params.jobGraph.jobId);
      const c = this.coordinator;
      return {
        history,
        pending: c?.pending.map((p) => ({ checkpointId: p.checkpointId, kind: p.kind })) ?? [],
        retained: c?.completed.map((r) => r.checkpointId) ?? [],
        attempt: this.attempt,
      };
    },
    metrics: () => this.collectMetrics(),
    collected: ({ from }) => ({ records: this.collectedLog.slice(from), next: this.collectedLog.length }),
  };

  private async schedule(): Promise<void> {
    const graph = this.params.jobGraph;
    const submitted = new Set<ExecutionAttemptId>();
    try {
      this.executions = buildExecutions(graph, this.attempt);
      this.lifecycle = initialLifecycle(this.executions.map((e) => e.attemptId));
      const restore = await this.prepareCheckpointing();
      const slots = await this.requestSlots();
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
          const tdd = { ...e.tdd, locations: peers, ...this.checkpointingOf(e, restore) };
          await this.placement.get(e.attemptId)!.ask({ type: 'submit-task', tdd, jobMaster: this.self }, 60_000);
          submitted.add(e.attemptId);
        }),
      );
      await this.apply({ type: 'deployed' });
      if (this.coordinator !== null && this.lifecycle.status === 'running') {
        const sources = this.executions.filter((e) => e.tdd.inputs.length === 0).map((e) => e.attemptId);
        this.stepCoordinator({ type: 'tasks-changed', expectedAttempts: this.executions.map((e) => e.attemptId), sourceAttempts: sources, now: this.now() });
      }
    } catch (error) {
      await this.apply({ type: 'deploy-failed', error: toErrorRecord(error, 'TROUPE_TASK_FAILED') });
      // tasks that never reached their TaskExecutor will not report: they are cancelled here
      for (const e of this.executions) {
        if (!submitted.has(e.attemptId)) await this.apply({ type: 'task-state', attemptId: e.attemptId, state: 'canceled' });
      }
    }
  }

  private async apply(event: LifecycleEvent): Promise<void> {
    // between two attempts no task runs: late events of the old attempt change nothing
    if (this.lifecycle.status === 'restarting' || this.ended) return;
    const before = this.lifecycle.status;
    const { state, effects } = step(this.lifecycle, event);
    this.lifecycle = state;
    if (state.status !== before) this.params.dispatcher.tell({ type: 'job-status-changed', jobId: this.params.jobGraph.jobId, status: state.status });
    // the job stopped running (a task failed, a TaskExecutor was lost, a cancel): no more triggers,
    // pending checkpoints aborted uncounted (a lost TaskExecutor's tasks report nothing themselves)
    if (before === 'running' && state.status !== 'running' && this.coordinator?.phase === 'running') this.stepCoordinator({ type: 'suspend', now: this.now() });
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
        this.cancelTimer = null;
        if (effect.status === 'failed' && this.scheduleRestart(effect.error)) return;
        await this.finish(effect.status, effect.error);
        return;
    }
  }

  private async finish(status: JobResult['status'], error: JobResult['error']): Promise<void> {
    const graph = this.params.jobGraph;
    this.ended = true;
    if (this.restartTimer !== null) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    if (this.coordinator !== null) this.stepCoordinator({ type: 'job-ended' });
    // the result is announced once the checkpoint directory is quiet: a restore right after it sees
    // the retained checkpoints as they stay (invariant 5)
    while (this.storageWork.size > 0) await Promise.allSettled([...this.storageWork]);
    this.cancelTick?.();
    this.cancelTick = null;
    for (const r of this.savepointRequests.values()) r.reject({ code: 'TROUPE_CHECKPOINT_DECLINED', message: `the job ended (${status}) before the savepoint completed` });
    this.savepointRequests.clear();
    if (status !== this.lifecycle.status) this.params.dispatcher.tell({ type: 'job-status-changed', jobId: graph.jobId, status });
    await Promise.allSettled([...this.executors.values()].map((te) => te.ask({ type: 'release-job', jobId: graph.jobId }, 5_000)));
    await this.collectGarbage();
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

  /**
   * Slots for this attempt. A restart waits up to `SLOT_WAIT_MS` for slots to come back (a lost
   * TaskExecutor is launched again); a first deployment fails at once when the cluster is too small.
   */
  private async requestSlots(): Promise<SlotAllocation[]> {
    const graph = this.params.jobGraph;
    const deadline = Date.now() + (this.attempt > 0 ? SLOT_WAIT_MS : 0);
    for (;;) {
      try {
        return await this.params.resourceManager.ask({ type: 'request-slots', jobId: graph.jobId, count: slotsNeeded(graph), jobMaster: this.self });
      } catch (error) {
        if ((error as { code?: unknown }).code !== 'TROUPE_NOT_ENOUGH_SLOTS' || Date.now() >= deadline) throw error;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  // ---- checkpoints ----

  /** Registers this attempt's epoch and finds what to restore from (invariants 3 and 4). */
  private async prepareCheckpointing(): Promise<RestorePoint | null> {
    const graph = this.params.jobGraph;
    const cp = graph.checkpointing;
    if (cp === undefined) return null;
    this.coordinator ??= initialCoordinator<TaskStateSnapshot>(cp.config);
    this.storage ??= new JobCheckpointStorage(openCheckpointStore(cp.storage), graph.jobId);
    await this.storage.registerEpoch(this.attempt + 1);
    const latest = latestCompleted(this.coordinator);
    const savepoint = latest === undefined ? undefined : this.completedSavepoints.get(latest.checkpointId);
    if (savepoint !== undefined) return openRestorePoint(savepoint, false);
    if (latest !== undefined) {
      const checkpoint = await this.storage.load(latest.checkpointId);
      const file = join(cp.storage, graph.jobId, checkpointDirName(latest.checkpointId), '_metadata');
      return { checkpoint, root: cp.storage, file, allowNonRestoredState: false };
    }
    if (graph.restore !== undefined) return openRestorePoint(graph.restore.path, graph.restore.allowNonRestoredState);
    return null;
  }

  /** The deployment fields of checkpointing and restore for one execution. */
  private checkpointingOf(e: Execution, restore: RestorePoint | null): Partial<Execution['tdd']> {
    const graph = this.params.jobGraph;
    const cp = graph.checkpointing;
    const out: { stateBackend?: NonNullable<Execution['tdd']['stateBackend']>; checkpointing?: NonNullable<Execution['tdd']['checkpointing']>; restore?: TaskRestore } = {};
    if (graph.stateBackend !== undefined) out.stateBackend = graph.stateBackend;
    if (cp !== undefined) out.checkpointing = { mode: cp.config.mode, periodic: cp.periodic, storage: cp.storage, epoch: this.attempt + 1 };
    if (restore !== null) {
      const assigned = assignState(graph, parseJobState(restore.checkpoint.state, restore.file), restore.file, restore.allowNonRestoredState);
      out.restore = {
        checkpointId: restore.checkpoint.checkpointId,
        root: restore.root,
        base: restore.checkpoint.base,
        jobId: restore.checkpoint.jobId,
        operators: assigned.get(`${e.vertex}#${e.subtask}`) ?? {},
      };
    }
    return out;
  }

  private track(work: Promise<void>): void {
    this.storageWork.add(work);
    void work.finally(() => this.storageWork.delete(work));
  }

  private get timers(): Timers {
    return this.params.timers ?? systemTimers;
  }

  private now(): number {
    return this.timers.now();
  }

  private stepCoordinator(event: CoordinatorEvent<TaskStateSnapshot>): void {
    if (this.coordinator === null) return;
    const { state, effects } = stepCoordinator(this.coordinator, event);
    this.coordinator = state;
    for (const effect of effects) this.runCoordinatorEffect(effect);
    this.cancelTick?.();
    this.cancelTick = null;
    const at = nextTickAt(state);
    if (at !== undefined && !this.ended) {
      this.cancelTick = this.timers.setTimeout(() => this.tell({ type: 'checkpoint-tick' }), Math.min(MAX_TIMER_MS, Math.max(0, at - this.now())));
    }
  }

  private runCoordinatorEffect(effect: CoordinatorEffect<TaskStateSnapshot>): void {
    const graph = this.params.jobGraph;
    if (DEBUG_CHECKPOINTS) console.error(`[troupe] job ${graph.jobId} checkpoint effect ${effect.type} ${'checkpointId' in effect ? effect.checkpointId : ''} ${'reason' in effect ? effect.reason : ''}`);
    switch (effect.type) {
      case 'trigger': {
        let savepoint: string | undefined;
        if (effect.kind === 'savepoint') {
          const requestId = this.coordinator!.pending.find((p) => p.checkpointId === effect.checkpointId)?.requestId;
          savepoint = requestId === undefined ? undefined : this.savepointRequests.get(requestId)?.dir;
          if (savepoint !== undefined) this.savepointDirs.set(effect.checkpointId, savepoint);
        }
        for (const a of effect.sources) {
          this.placement.get(a)?.tell({ type: 'trigger-checkpoint', attemptId: a, checkpointId: effect.checkpointId, timestamp: effect.timestamp, ...(savepoint !== undefined ? { savepoint } : {}) });
        }
        return;
      }
      case 'store-metadata':
        this.track(this.storeMetadata(effect));
        return;
      case 'notify-complete':
      case 'notify-aborted': {
        const byExecutor = new Map<TaskExecutorHandle, ExecutionAttemptId[]>();
        for (const a of effect.attempts) {
          const te = this.placement.get(a);
          if (te === undefined) continue;
          const list = byExecutor.get(te) ?? [];
          list.push(a);
          byExecutor.set(te, list);
        }
        const outcome = effect.type === 'notify-complete' ? 'complete' : 'aborted';
        for (const [te, attempts] of byExecutor) te.tell({ type: 'notify-checkpoint', attempts, checkpointId: effect.checkpointId, outcome });
        if (effect.type === 'notify-aborted' && effect.reason !== 'subsumed' && effect.reason !== 'job-ended' && effect.reason !== 'suspended') {
          console.error(`[troupe] job ${graph.jobId}: checkpoint ${effect.checkpointId} aborted (${effect.reason})${effect.error !== undefined ? `: ${effect.error.message}` : ''}`);
        }
        return;
      }
      case 'discard':
        this.track(this.discard(effect).catch((error: unknown) => console.error(`[troupe] job ${graph.jobId}: discarding checkpoint ${effect.checkpointId} failed:`, error)));
        return;
      case 'fail-job':
        void this.apply({ type: 'fail', error: effect.error });
        return;
      case 'savepoint-done': {
        const request = this.savepointRequests.get(effect.requestId);
        this.savepointRequests.delete(effect.requestId);
        const dir = this.savepointDirs.get(effect.checkpointId);
        this.savepointDirs.delete(effect.checkpointId);
        if (dir !== undefined) this.completedSavepoints.set(effect.checkpointId, dir);
        if (request === undefined) return;
        request.resolve(request.dir);
        if (request.stop) void this.apply({ type: 'cancel' });
        return;
      }
      case 'savepoint-failed': {
        const request = this.savepointRequests.get(effect.requestId);
        this.savepointRequests.delete(effect.requestId);
        // its directory is removed by the discard effect, when it got as far as writing anything
        if (request === undefined) return;
        request.reject(
          effect.error ?? { code: 'TROUPE_CHECKPOINT_DECLINED', message: `savepoint ${effect.checkpointId ?? ''} of job ${graph.jobId} failed: ${effect.reason}` },
        );
        return;
      }
    }
  }

  /** Writes _metadata (checkpoint or savepoint), records it, then tells the coordinator (invariant 2). */
  private async storeMetadata(effect: Extract<CoordinatorEffect<TaskStateSnapshot>, { type: 'store-metadata' }>): Promise<void> {
    const graph = this.params.jobGraph;
    const storage = this.storage!;
    const epoch = this.attempt + 1;
    try {
      const { state, files } = jobStateOf(graph, effect.acks);
      const input = { timestamp: effect.timestamp, files, state };
      let path: string;
      if (effect.kind === 'checkpoint') {
        await storage.finalize(effect.checkpointId, epoch, input);
        path = join(graph.checkpointing!.storage, graph.jobId, checkpointDirName(effect.checkpointId));
      } else {
        path = this.savepointDirs.get(effect.checkpointId)!;
        await storage.finalizeSavepoint(openCheckpointStore(dirname(path)), basename(path), effect.checkpointId, epoch, input);
      }
      const store = await this.metadataStore();
      await store?.record({
        jobId: graph.jobId,
        checkpointId: effect.checkpointId,
        kind: effect.kind,
        path,
        timestamp: effect.timestamp,
        completedAt: Date.now(),
        bytes: files.reduce((n, f) => n + f.bytes, 0),
        files: files.length,
      });
      this.stepCoordinator({ type: 'stored', checkpointId: effect.checkpointId, now: this.now() });
    } catch (error) {
      this.stepCoordinator({ type: 'store-failed', checkpointId: effect.checkpointId, reason: toErrorRecord(error, 'TROUPE_CHECKPOINT_DECLINED'), now: this.now() });
    }
  }

  private async discard(effect: Extract<CoordinatorEffect<TaskStateSnapshot>, { type: 'discard' }>): Promise<void> {
    const storage = this.storage;
    if (storage === null) return;
    const savepointDir = this.savepointDirs.get(effect.checkpointId);
    if (savepointDir !== undefined) {
      // an aborted savepoint: its directory holds nothing that anything else references
      this.savepointDirs.delete(effect.checkpointId);
      const store = openCheckpointStore(dirname(savepointDir));
      if ((await store.size(join(basename(savepointDir), '_metadata'))) === undefined) await store.removeTree(basename(savepointDir));
      return;
    }
    if (effect.metadata) {
      await storage.discard(effect.checkpointId);
      await (await this.metadataStore())?.markDiscarded(this.params.jobGraph.jobId, effect.checkpointId);
      return;
    }
    const files = effect.handles.flatMap((h) => Object.values(h.operators).flatMap((s) => (s.keyed !== undefined ? keyedHandleFiles(s.keyed) : [])));
    await storage.discardHandles(files);
    await storage.abort(effect.checkpointId).catch(() => undefined); // finalized meanwhile: not ours to remove
  }

  /**
   * Removes what no retained checkpoint uses once the tasks are gone: uploads of aborted checkpoints
   * that landed after their discard, directories of checkpoints that never completed.
   */
  private async collectGarbage(): Promise<void> {
    if (this.storage === null || this.coordinator === null) return;
    try {
      await this.storage.collectGarbage(this.coordinator.nextCheckpointId);
    } catch (error) {
      console.error(`[troupe] job ${this.params.jobGraph.jobId}: cleaning the checkpoint directory failed:`, error);
    }
  }

  private metadataStore(): Promise<JobManagerStore | null> {
    const cp = this.params.jobGraph.checkpointing;
    if (cp === undefined) return Promise.resolve(null);
    this.jmStore ??= JobManagerStore.open(isMemoryStorage(cp.storage) ? ':memory:' : join(cp.storage, 'troupe-jobmanager.sqlite')).catch((error: unknown) => {
      console.error(`[troupe] the JobManager store under ${cp.storage} cannot be opened:`, error);
      return null;
    });
    return this.jmStore;
  }

  private triggerSavepoint(dir: string | undefined, stop: boolean): Promise<string> {
    const graph = this.params.jobGraph;
    const cp = graph.checkpointing;
    if (cp === undefined || this.coordinator === null || this.ended) {
      return Promise.reject(new TroupeError('TROUPE_INVALID_ARGUMENT', `job ${graph.jobId} is not running with checkpoint storage: no savepoint can be taken`));
    }
    const target = join(dir ?? cp.savepoints, savepointDirName(graph.jobId));
    const requestId = `sp-${++this.requestCounter}`;
    return new Promise<string>((resolve, reject) => {
      this.savepointRequests.set(requestId, { dir: target, stop, resolve, reject: (error) => reject(TroupeError.fromRecord(error)) });
      this.stepCoordinator({ type: 'trigger-savepoint', now: this.now(), requestId });
    });
  }

  // ---- restarts ----

  /** True when the restart strategy grants a restart: the job restarts after the delay. */
  private scheduleRestart(error: ErrorRecord | undefined): boolean {
    const graph = this.params.jobGraph;
    const strategy = graph.restartStrategy ?? (graph.checkpointing?.periodic === true ? DEFAULT_RESTART_STRATEGY : { type: 'none' as const });
    const { state, decision } = decideRestart(strategy, this.restartState, { now: Date.now(), random: Math.random(), ...(error !== undefined ? { error } : {}) });
    this.restartState = state;
    if (!decision.restart) return false;
    console.error(`[troupe] job ${graph.jobId} failed (${error?.code ?? '?'}: ${error?.message ?? ''}); restarting in ${Math.round(decision.delayMs)} ms (attempt ${this.attempt + 1})`);
    this.params.dispatcher.tell({ type: 'job-status-changed', jobId: graph.jobId, status: 'restarting' });
    this.lifecycle = { ...this.lifecycle, status: 'restarting' };
    if (this.restartTimer !== null) clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => this.tell({ type: 'restart' }), decision.delayMs);
    return true;
  }

  private async restart(): Promise<void> {
    if (this.restartTimer === null || this.ended) return;
    this.restartTimer = null;
    const graph = this.params.jobGraph;
    await Promise.allSettled([...this.executors.values()].map((te) => te.ask({ type: 'release-job', jobId: graph.jobId, restart: true }, 5_000)));
    while (this.storageWork.size > 0) await Promise.allSettled([...this.storageWork]);
    await this.collectGarbage();
    if (this.slotsHeld) await this.params.resourceManager.ask({ type: 'free-slots', jobId: graph.jobId }).catch(() => 0);
    this.slotsHeld = false;
    this.placement.clear();
    this.placedOn.clear();
    this.finalMetrics.clear();
    this.attempt++;
    this.restartState = restarted(this.restartState, Date.now());
    await this.schedule();
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

/** Opens a savepoint directory, or a retained checkpoint's chk-<n> directory, to restore from. */
export async function openRestorePoint(path: string, allowNonRestoredState: boolean): Promise<RestorePoint> {
  const name = basename(path);
  const m = /^chk-(0|[1-9][0-9]*)$/.exec(name);
  if (m !== null) {
    const jobDir = dirname(path);
    const root = dirname(jobDir);
    const storage = new JobCheckpointStorage(openCheckpointStore(root), basename(jobDir));
    const checkpoint = await storage.load(Number(m[1]));
    return { checkpoint, root, file: join(path, '_metadata'), allowNonRestoredState };
  }
  const root = dirname(path);
  const checkpoint = await openSavepoint(openCheckpointStore(root), name);
  return { checkpoint, root, file: join(path, '_metadata'), allowNonRestoredState };
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
