import { TroupeError } from '../../core/errors.js';

export const DEFAULT_ASK_TIMEOUT_MS = 10_000;

/** Settles like `promise`, or rejects with TROUPE_REQUEST_TIMEOUT after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  if (!Number.isFinite(ms) || ms <= 0) return promise;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new TroupeError('TROUPE_REQUEST_TIMEOUT', `${what} got no reply within ${ms} ms`, { details: { timeoutMs: ms } }));
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
