/** What every keyed state descriptor shares, and the check the factories and the backend run on it. */
import { TroupeError } from '../core/errors.js';
import { resolveTtl, type StateTtlConfig } from './ttl.js';

export type StateKind = 'value' | 'list' | 'map' | 'reducing' | 'aggregating';

export interface StateDescriptorBase {
  /** Unique per operator: one name is one state, of one kind. */
  readonly name: string;
  readonly ttl?: StateTtlConfig;
}

export function checkDescriptor(descriptor: StateDescriptorBase, kind: StateKind): void {
  if (descriptor === null || typeof descriptor !== 'object') {
    throw new TroupeError('TROUPE_INVALID_ARGUMENT', `a ${kind} state descriptor must be an object with a name`);
  }
  if (typeof descriptor.name !== 'string' || descriptor.name === '') {
    throw new TroupeError('TROUPE_INVALID_ARGUMENT', `a ${kind} state descriptor needs a non-empty name, got ${String(descriptor.name)}`);
  }
  resolveTtl(descriptor.ttl, descriptor.name);
}

export function requireFunction(fn: unknown, what: string, stateName: string): void {
  if (typeof fn !== 'function') throw new TroupeError('TROUPE_INVALID_ARGUMENT', `state '${stateName}': ${what} must be a function`);
}
