/**
 * The agent's config as its loader takes it: the schema (config/agent-schema.ts), then a check
 * the schema cannot make on its own. Every command the agent could write for the config (each
 * prefix announced, drained and withdrawn) is built exactly as the agent will build it, and a
 * refusal becomes a config problem. A value the schema lets through but ExaBGP's command builder
 * refuses (an unspecified next hop "::", an address with a zone, a line over 4095 characters)
 * would otherwise pass `herald check` and then throw in the running agent the first time the node
 * turned healthy.
 */
import { agentConfigSchema, type AgentConfig } from '../config/agent-schema.js';
import { loadConfigFile, validateConfig, type ConfigProblem } from '../config/load.js';
import { prefixFamily } from '../wire/net-schemas.js';
import { buildCommand, CommandRejectedError } from '../exabgp/commands.js';
import type { Announcement } from '../wire/agent-status.js';
import { routeIntent } from './route-intents.js';

/** Validates an agent config (schema, then routes); throws ConfigError naming every problem. */
export function validateAgentConfig(input: unknown, source: string): AgentConfig {
  return validateConfig(agentConfigSchema, input, source, routeProblems);
}

/** Reads, parses and validates an agent config file; throws ConfigError naming every problem. */
export function loadAgentConfig(file: string): AgentConfig {
  return loadConfigFile(agentConfigSchema, file, routeProblems);
}

/** Where in the config file the field of a refused ExaBGP command comes from. */
function configPath(
  field: string,
  prefixIndex: number,
  family: 'ipv4' | 'ipv6',
  announcement: Announcement,
): (string | number)[] {
  const item = /\[(\d+)\]$/.exec(field);
  const index = item ? Number(item[1]) : undefined;
  if (field === 'prefix') return ['prefixes', prefixIndex];
  if (field === 'attributes.nextHop') return ['bgp', family === 'ipv6' ? 'nextHop6' : 'nextHop'];
  if (field === 'attributes.med') return ['bgp', announcement === 'graceful' ? 'drainMed' : 'med'];
  if (field.startsWith('attributes.communities'))
    return ['bgp', 'communities', ...(index !== undefined ? [index] : [])];
  if (field.startsWith('attributes.largeCommunities'))
    return ['bgp', 'largeCommunities', ...(index !== undefined ? [index] : [])];
  if (field.startsWith('attributes.asPath')) return ['bgp', 'localAs'];
  if (field.startsWith('neighbors')) return ['bgp', 'neighbors', ...(index !== undefined ? [index] : [])];
  return ['bgp'];
}

/** The route commands a schema-valid config would make that the ExaBGP command builder refuses. */
export function routeProblems(config: AgentConfig): ConfigProblem[] {
  const problems = new Map<string, ConfigProblem>();
  config.prefixes.forEach((prefix, index) => {
    // A missing nextHop6 is reported by the schema (so this never runs for such a config).
    if (prefixFamily(prefix) === 'ipv6' && !config.bgp.nextHop6) return;
    for (const announcement of ['announce', 'graceful', 'withdraw'] as const) {
      try {
        buildCommand(routeIntent(prefix, announcement, config.bgp), config.bgp.neighbors);
      } catch (error) {
        if (!(error instanceof CommandRejectedError)) throw error;
        const path = configPath(error.field, index, prefixFamily(prefix), announcement);
        // "field: expected X, received Y" → "expected X, received Y"
        const message = `${error.message.slice(error.field.length + 2)} (refused by the ExaBGP command builder)`;
        // One problem per field; an over-long line is one problem however many lines it breaks.
        problems.set(error.field === 'command' ? path.join('.') : `${path.join('.')}: ${message}`, {
          path,
          message,
        });
      }
    }
  });
  return [...problems.values()];
}
