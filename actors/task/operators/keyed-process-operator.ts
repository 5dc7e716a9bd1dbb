import type { KeyedProcessContext, KeyedProcessFunction, KeyedRuntimeContext, KeySelector } from '../../../api/datastream/functions.js';
import type { KeyedStateBackend } from '../../../state/backend.js';
import { runtimeContextOf } from './process-operator.js';
import type { OperatorContext, Output, StreamOperator } from './stream-operator.js';

/** Records between looks at the clock for the TTL sweep (a clock read per record would cost). */
const TTL_SWEEP_CHECK_EVERY = 1024;
/** Clock time between full sweeps of expired TTL state; reads clean up lazily in between. */
export const TTL_SWEEP_INTERVAL_MS = 10_000;

export class KeyedProcessOperator implements StreamOperator {
  private readonly backend: KeyedStateBackend;
  private readonly processContext: KeyedProcessContext<unknown>;
  private recordsSinceSweepCheck = 0;
  private lastSweep: number;

  constructor(
    private readonly fn: KeyedProcessFunction<unknown, unknown, unknown>,
    private readonly keySelector: KeySelector<unknown, unknown>,
    ctx: OperatorContext,
    private readonly output: Output,
  ) {
    const backend = (this.backend = ctx.keyedStateBackend());
    const runtime: KeyedRuntimeContext = {
      ...runtimeContextOf(ctx),
      getState: (d) => backend.getValueState(d),
      getListState: (d) => backend.getListState(d),
      getMapState: (d) => backend.getMapState(d),
      getReducingState: (d) => backend.getReducingState(d),
      getAggregatingState: (d) => backend.getAggregatingState(d),
    };
    this.processContext = { runtime, getCurrentKey: () => backend.getCurrentKey() };
    this.lastSweep = backend.clock.now();
  }
  async open(): Promise<void> {
    await this.fn.open?.(this.processContext.runtime);
  }
  processElement(value: unknown): void {
    this.backend.setCurrentKey(this.keySelector(value));
    this.fn.processElement(value, this.processContext, this.output);
    if (++this.recordsSinceSweepCheck >= TTL_SWEEP_CHECK_EVERY) this.maybeSweepExpired();
  }
  endInput(): void {}
  async close(): Promise<void> {
    await this.fn.close?.();
  }

  private maybeSweepExpired(): void {
    this.recordsSinceSweepCheck = 0;
    if (!this.backend.hasTtlState()) return;
    const now = this.backend.clock.now();
    if (now - this.lastSweep < TTL_SWEEP_INTERVAL_MS) return;
    this.lastSweep = now;
    this.backend.cleanupExpired(now);
  }
}
