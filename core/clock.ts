/** Time is injected so that pure cores can be driven by a manual clock in tests. */
export interface Clock {
  /** Wall-clock epoch milliseconds. */
  now(): number;
  /** Monotonic milliseconds with sub-ms precision, for durations. */
  monotonic(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
};

export class ManualClock implements Clock {
  constructor(private time = 0) {}
  now(): number {
    return this.time;
  }
  monotonic(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
}
