/**
 * JSON Schemas for editors, generated from the same zod schemas that validate config files.
 * `herald schema agent > config/agent.schema.json` regenerates the committed copy; a test
 * fails when the two drift apart.
 */
import { z } from 'zod';
import { agentConfigSchema } from './agent-schema.js';

export const configSchemas: Record<string, z.ZodType> = { agent: agentConfigSchema };

export function registerConfigSchema(name: string, schema: z.ZodType): void {
  configSchemas[name] = schema;
}

export function jsonSchemaFor(name: string): object {
  const schema = configSchemas[name];
  if (!schema)
    throw new Error(
      `unknown config kind "${name}"; expected one of ${Object.keys(configSchemas).join(', ')}`,
    );
  return {
    ...z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }),
    title: `herald ${name} configuration`,
  };
}
