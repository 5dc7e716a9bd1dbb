/**
 * Merges the watermarks of a task's input channels (Flink's StatusWatermarkValve), pure.
 *
 * Invariants:
 *  1. The task's watermark is the minimum over the channels that have not ended; a channel that
 *     has sent no watermark yet holds it at -Infinity.
 *  2. A channel's watermark never goes back (a lower one is ignored).
 *  3. The output only advances, and is reported only when it advances; once every channel ended,
 *     nothing more is reported (end-of-partition carries the end of time itself).
 */
export class WatermarkValve {
  private readonly marks: number[];
  private readonly ended: boolean[];
  private emitted = -Infinity;

  constructor(channels: number) {
    this.marks = new Array<number>(channels).fill(-Infinity);
    this.ended = new Array<boolean>(channels).fill(false);
  }

  get current(): number {
    return this.emitted;
  }

  /** Returns the new task watermark if it advanced, else null. */
  onWatermark(channel: number, timestamp: number): number | null {
    if (this.ended[channel] === true || !(timestamp > this.marks[channel]!)) return null;
    this.marks[channel] = timestamp;
    return this.advance();
  }

  onChannelEnded(channel: number): number | null {
    if (this.ended[channel] === true) return null;
    this.ended[channel] = true;
    return this.advance();
  }

  private advance(): number | null {
    let min = Infinity;
    let open = 0;
    for (let i = 0; i < this.marks.length; i++) {
      if (this.ended[i]) continue;
      open++;
      if (this.marks[i]! < min) min = this.marks[i]!;
    }
    if (open === 0 || !(min > this.emitted)) return null;
    this.emitted = min;
    return min;
  }
}
