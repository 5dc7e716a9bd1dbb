/**
 * Heartbeat bookkeeping of the ResourceManager (Flink's HeartbeatManager), pure: time comes in as
 * `now`, decisions go out as lists.
 *
 * Invariants:
 *  1. Every `intervalMs` each monitored target is sent one heartbeat request.
 *  2. A target is lost once `timeoutMs` passed since its last heartbeat (or since it was added),
 *     and is reported lost exactly once; it is then no longer monitored.
 *  3. A heartbeat from a target that is not monitored is ignored.
 */
export interface HeartbeatTick<K> {
  /** Targets to send a heartbeat request now. */
  readonly request: readonly K[];
  /** Targets silent for longer than the timeout, with how long they were silent. */
  readonly lost: readonly { readonly target: K; readonly silentMs: number }[];
}

export class HeartbeatMonitor<K> {
  private readonly lastSeen = new Map<K, number>();
  private lastRequest = -Infinity;

  constructor(
    readonly intervalMs: number,
    readonly timeoutMs: number,
  ) {
    if (!(intervalMs > 0) || !(timeoutMs > intervalMs)) throw new RangeError(`heartbeat timeout (${timeoutMs}) must exceed the interval (${intervalMs}) > 0`);
  }

  add(target: K, now: number): void {
    this.lastSeen.set(target, now);
  }

  remove(target: K): void {
    this.lastSeen.delete(target);
  }

  has(target: K): boolean {
    return this.lastSeen.has(target);
  }

  received(target: K, now: number): void {
    if (this.lastSeen.has(target)) this.lastSeen.set(target, Math.max(now, this.lastSeen.get(target)!));
  }

  tick(now: number): HeartbeatTick<K> {
    const lost: { target: K; silentMs: number }[] = [];
    for (const [target, seen] of this.lastSeen) {
      if (now - seen > this.timeoutMs) lost.push({ target, silentMs: now - seen });
    }
    for (const l of lost) this.lastSeen.delete(l.target);
    let request: K[] = [];
    if (now - this.lastRequest >= this.intervalMs) {
      this.lastRequest = now;
      request = [...this.lastSeen.keys()];
    }
    return { request, lost };
  }
}
