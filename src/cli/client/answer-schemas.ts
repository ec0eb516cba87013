/**
 * The schemas the CLI parses the coordinator's answers with (zod and the wire schemas), imported
 * by api-client.ts and event-watch.ts only once an answer has arrived: the request of `herald
 * drain` leaves before zod is loaded, and a command that never gets an answer never loads it.
 */
import { z } from 'zod';
import {
  auditEntrySchema,
  drainCreatedSchema,
  drainViewSchema,
  errorBodySchema,
  fleetStatusSchema,
  windowViewSchema,
} from '../../wire/coordinator-api.js';

export { drainCreatedSchema, drainViewSchema, errorBodySchema, fleetStatusSchema, windowViewSchema };

export const drainListSchema = z.object({ drains: z.array(drainViewSchema) });

export const releasesSchema = z.object({
  released: z.array(drainViewSchema),
  otherHolds: z.array(z.object({ id: z.string(), owner: z.string(), reason: z.string() })),
});

export const windowListSchema = z.object({ windows: z.array(windowViewSchema) });

export const windowRemovedSchema = z.object({
  window: windowViewSchema,
  drainStillHeld: z.string().nullable(),
});

export const auditListSchema = z.object({ entries: z.array(auditEntrySchema) });
