/**
 * The dashboard's history documents (GET /api/v1/dashboard/history/...): check latency per node
 * over the last hour in fixed buckets, and each site's display state over recent hours as a list
 * of transitions. Defined once so the coordinator-side recorder and the page agree.
 */
import { z } from 'zod';
import { DISPLAY_STATES } from './site-state.js';

export const HISTORY_PREFIX = '/api/v1/dashboard/history';

export const checkWorstSchema = z.enum(['up', 'warn', 'down', 'pending']);

/** One latency bucket: [bucket start (ms), mean ms, max ms, worst status in the bucket]. */
export const latencyPointSchema = z.tuple([z.number(), z.number(), z.number(), checkWorstSchema]);
export type LatencyPoint = z.infer<typeof latencyPointSchema>;

export const latencyHistorySchema = z.object({
  generatedAt: z.number(),
  bucketMs: z.number(),
  windowMs: z.number(),
  /** node → check name → points, oldest first (empty buckets omitted). */
  nodes: z.record(z.string(), z.record(z.string(), z.array(latencyPointSchema))),
});
export type LatencyHistory = z.infer<typeof latencyHistorySchema>;

export const displayStateSchema = z.enum(DISPLAY_STATES);

/** [since (ms), state]: the site entered `state` at `since`. */
export const stateChangeSchema = z.tuple([z.number(), displayStateSchema]);
export type StateChange = z.infer<typeof stateChangeSchema>;

export const stateHistorySchema = z.object({
  generatedAt: z.number(),
  windowMs: z.number(),
  /** When recording began (a coordinator restart forgets what came before). */
  since: z.number(),
  /** site → changes, oldest first; the first one is the state at `since` or at the window start. */
  sites: z.record(z.string(), z.array(stateChangeSchema)),
});
export type StateHistory = z.infer<typeof stateHistorySchema>;
