/**
 * JSON Schemas for editors, generated from the same zod schemas that validate config files.
 * `herald schema agent > config/agent.schema.json` regenerates the committed copy; a test
 * fails when the two drift apart.
 */
import { z } from 'zod';

export function jsonSchemaFor(kind: string, schema: z.ZodType): object {
  return {
    ...z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }),
    title: `herald ${kind} configuration`,
  };
}
