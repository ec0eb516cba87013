/** Opens the transport the agent's config asks for: ExaBGP's helper stdio, or its named pipes. */
import type { AgentConfig } from '../config/agent-schema.js';
import type { Logger } from '../util/log.js';
import { openPipeTransport } from './pipe-transport.js';
import { ProcessTransport } from './process-transport.js';
import type { ExabgpTransport } from './transport.js';

export async function openExabgpTransport(
  config: Pick<AgentConfig['exabgp'], 'transport' | 'pipeDir'>,
  logger: Logger,
): Promise<ExabgpTransport> {
  if (config.transport === 'pipe') return openPipeTransport({ dir: config.pipeDir, logger });
  return new ProcessTransport({ logger });
}
