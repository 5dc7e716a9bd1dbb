/** Keyed ValueState: one value per key, scoped to the key of the record being processed. */
export interface ValueStateDescriptor<V> {
  readonly name: string;
  readonly defaultValue?: V;
}

export interface ValueState<V> {
  value(): V | undefined;
  update(value: V): void;
  clear(): void;
}

export function valueStateDescriptor<V>(name: string, defaultValue?: V): ValueStateDescriptor<V> {
  return defaultValue === undefined ? { name } : { name, defaultValue };
}
