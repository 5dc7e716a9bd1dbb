/**
 * A serial mailbox. comedy runs the async handlers of one actor concurrently; every Troupe actor
 * routes its messages through one of these so that a handler sees the effects of all earlier
 * messages and none of the later ones.
 *
 * Invariants:
 *  1. Handlers run one at a time, in the order the messages were posted.
 *  2. A synchronous handler runs at once when the mailbox is idle (no extra tick on the data path).
 *  3. A handler that throws (or rejects) does not stop the mailbox: the error goes to the
 *     actor's error callback (for `post`) or to the caller (for `call`).
 */
import { Fifo } from '../../core/fifo.js';

type Job = () => unknown;

interface Entry {
  readonly job: Job;
  readonly resolve?: (value: unknown) => void;
  readonly reject?: (reason: unknown) => void;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

export class SerialMailbox {
  private readonly queue = new Fifo<Entry>();
  private busy = false;

  constructor(private readonly onError: (error: unknown) => void) {}

  get size(): number {
    return this.queue.length;
  }

  /** Fire-and-forget: errors go to the mailbox's error callback. */
  post(job: Job): void {
    this.queue.push({ job });
    if (!this.busy) this.drain();
  }

  /** Request/reply: the promise settles with the handler's result. */
  call<T>(job: () => T | Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ job, resolve: resolve as (v: unknown) => void, reject });
      if (!this.busy) this.drain();
    });
  }

  private drain(): void {
    this.busy = true;
    for (let entry = this.queue.shift(); entry !== undefined; entry = this.queue.shift()) {
      let result: unknown;
      try {
        result = entry.job();
      } catch (error) {
        this.settle(entry, error, true);
        continue;
      }
      if (isPromiseLike(result)) {
        result.then(
          (value) => {
            this.settle(entry, value, false);
            this.drain();
          },
          (error: unknown) => {
            this.settle(entry, error, true);
            this.drain();
          },
        );
        return; // busy stays true until the async handler settles
      }
      this.settle(entry, result, false);
    }
    this.busy = false;
  }

  private settle(entry: Entry, value: unknown, failed: boolean): void {
    if (failed) {
      if (entry.reject !== undefined) entry.reject(value);
      else this.onError(value);
    } else {
      entry.resolve?.(value);
    }
  }
}
