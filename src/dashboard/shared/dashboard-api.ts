/**
 * The few endpoints the dashboard adds to the coordinator (under /api/v1/dashboard), with their
 * documents as zod schemas: who the token belongs to, the full last report of a site's nodes
 * (checks, neighbors, hold-down: more than the fleet document carries), and the histories.
 */
import { z } from 'zod';
import { agentStatusSchema } from '../../wire/agent-status.js';

export const DASHBOARD_API = '/api/v1/dashboard';

export const sessionSchema = z.object({
  name: z.string(),
  role: z.enum(['agent', 'viewer', 'operator']),
});
export type SessionDocument = z.infer<typeof sessionSchema>;

export const siteNodesSchema = z.object({
  generatedAt: z.number(),
  site: z.string(),
  nodes: z.array(
    z.object({
      node: z.string(),
      /** When the coordinator received the report; null when the node never reported. */
      receivedAt: z.number().nullable(),
      status: agentStatusSchema.nullable(),
    }),
  ),
});
export type SiteNodesDocument = z.infer<typeof siteNodesSchema>;
