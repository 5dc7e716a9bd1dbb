/**
 * ResourceManager ⇄ agent, over one authenticated transport connection (connection.ts).
 *
 * Invariants:
 *  1. The agent acts only on frames of an authenticated connection, and only on these requests:
 *     it starts its own TaskExecutor program with validated parameters; it never loads code a
 *     peer sends.
 *  2. Every `spawn` and `stop` gets exactly one reply with its `requestId`.
 *  3. When a TaskExecutor the agent started ends, the connection that asked for it (if still
 *     open) receives one `exited`.
 */
import Joi from 'joi';
import { TroupeError, type ErrorRecord } from '../../core/errors.js';

export const FRAME_AGENT_REQUEST = 10;
export const FRAME_AGENT_REPLY = 11;
export const FRAME_AGENT_EVENT = 12;

export type AgentRequest =
  | {
      readonly type: 'spawn';
      readonly requestId: number;
      readonly id: string;
      readonly slots: number;
      readonly jobManager: string;
      readonly maxFrameBytes: number;
      readonly heartbeatTimeoutMs: number;
    }
  | { readonly type: 'stop'; readonly requestId: number; readonly id: string };

export type AgentReply = { readonly requestId: number; readonly ok: true; readonly pid?: number } | { readonly requestId: number; readonly ok: false; readonly error: ErrorRecord };

export type AgentEvent = { readonly type: 'exited'; readonly id: string; readonly reason: string };

const endpointPattern = /^[A-Za-z0-9.:[\]-]+:\d{1,5}$/;

const requestSchema = Joi.alternatives().try(
  Joi.object({
    type: Joi.string().valid('spawn').required(),
    requestId: Joi.number().integer().min(0).required(),
    id: Joi.string().pattern(/^[A-Za-z0-9._-]{1,64}$/).required(),
    slots: Joi.number().integer().min(1).max(1024).required(),
    jobManager: Joi.string().pattern(endpointPattern).max(300).required(),
    maxFrameBytes: Joi.number().integer().min(1024).max(2 ** 31).required(),
    heartbeatTimeoutMs: Joi.number().integer().min(20).max(3_600_000).required(),
  }),
  Joi.object({
    type: Joi.string().valid('stop').required(),
    requestId: Joi.number().integer().min(0).required(),
    id: Joi.string().pattern(/^[A-Za-z0-9._-]{1,64}$/).required(),
  }),
);

export function parseAgentRequest(value: unknown): AgentRequest {
  const { error, value: v } = requestSchema.validate(value, { abortEarly: false, convert: false });
  if (error !== undefined) throw new TroupeError('TROUPE_INVALID_REQUEST', `bad agent request: ${error.details.map((d) => d.message).join('; ')}`);
  return v as AgentRequest;
}
