/**
 * Records are whatever user code produced; JSON cannot carry all of it. This JSON.stringify
 * replacer is applied to every REST response:
 *  - bigint → its decimal string;
 *  - Uint8Array (Buffer included) → `{ $base64: '…' }`;
 *  - undefined inside an array → null (as JSON.stringify does; explicit here so it holds for any caller).
 * It reads the holder's original value because JSON.stringify has already applied Buffer#toJSON.
 */
export function toJsonSafe(this: unknown, key: string, value: unknown): unknown {
  const original = this !== null && typeof this === 'object' ? (this as Record<string, unknown>)[key] : value;
  if (original instanceof Uint8Array) {
    return { $base64: Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('base64') };
  }
  if (typeof value === 'bigint') return value.toString();
  if (value === undefined && Array.isArray(this)) return null;
  return value;
}

/** JSON text of any response payload, with `toJsonSafe` applied. */
export function stringifyJsonSafe(payload: unknown): string {
  return JSON.stringify(payload, toJsonSafe) ?? 'null';
}
