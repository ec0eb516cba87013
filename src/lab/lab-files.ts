/**
 * Writes a lab run's configuration files: per router bird.conf; per node Kamailio's config and
 * TLS files (a copy of the certificate per node), agent.yaml, the helper script ExaBGP runs, and
 * exabgp.conf. Rendering is pure (the *-config.ts modules); this only puts the results on disk.
 */
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { buildAgentConfig, renderAgentConfig, type AgentTuning } from './agent-config.js';
import { renderBirdConfig } from './bird-config.js';
import type { LabContext } from './context.js';
import { labPreDrain, labTurnCheck } from './coturn.js';
import { renderExabgpConfig } from './exabgp-config.js';
import { renderKamailioConfig, renderKamailioTlsConfig, type KamailioTuning } from './kamailio-config.js';
import { requireCompiledCli } from './runtime.js';
import { AGENT_NODE_FLAGS } from '../agent/memory.js';

/** What ExaBGP runs as its helper on each node. */
export type AgentRuntime =
  /** herald's agent: `node dist/bin/herald.js agent --config <node>/agent.yaml`. */
  | { kind: 'herald' }
  /** A shell script body (e.g. a fixture that just announces); gets NODE, CONFIG, ANYCAST, ANYCAST6, NEXTHOP6. */
  | { kind: 'script'; script: string };

export async function writeRouterFiles(context: LabContext, holdTime: number): Promise<void> {
  for (const router of context.plan.routers) {
    const routerPaths = context.paths.routers[router.region]!;
    await mkdir(routerPaths.dir, { recursive: true });
    await writeFile(routerPaths.birdConfig, renderBirdConfig(context.plan, router, { holdTime }));
  }
}

export async function writeNodeFiles(
  context: LabContext,
  modulesDir: string,
  agent: AgentRuntime,
  tuning: AgentTuning,
  holdTime: number,
  coordinator?: { url: string | string[]; tokens: Record<string, string> },
  kamailio: KamailioTuning = {},
): Promise<void> {
  const { plan, paths } = context;
  const nodeBin = process.execPath;
  const cli = agent.kind === 'herald' ? requireCompiledCli() : '';
  await Promise.all(
    plan.nodes.map(async (node) => {
      const nodePaths = paths.nodes[node.name]!;
      await mkdir(nodePaths.stateDir, { recursive: true });
      await mkdir(nodePaths.kamailioRunDir, { recursive: true });
      await copyFile(paths.certs.serverCert, nodePaths.tlsCert);
      await copyFile(paths.certs.serverKey, nodePaths.tlsKey);
      await writeFile(
        nodePaths.kamailioConfig,
        renderKamailioConfig(plan, node, nodePaths, modulesDir, kamailio),
      );
      await writeFile(nodePaths.kamailioTlsConfig, renderKamailioTlsConfig(nodePaths));
      const token = coordinator?.tokens[node.name];
      const agentConfig = buildAgentConfig(
        plan,
        node,
        nodePaths,
        paths.certs.caCert,
        tuning,
        coordinator && token ? { url: coordinator.url, token } : undefined,
      );
      // The node's coturn (src/lab/coturn.ts) is checked too: an authenticated Allocate.
      (agentConfig.checks as unknown[]).push(labTurnCheck(context, tuning.timeout));
      const preDrain = labPreDrain(context, node, tuning.preDrain);
      if (preDrain) agentConfig.preDrain = preDrain;
      await writeFile(nodePaths.agentConfig, renderAgentConfig(agentConfig, nodePaths.agentConfig), {
        mode: 0o600,
      });
      const script =
        agent.kind === 'herald'
          ? [
              '#!/bin/sh',
              `# herald lab: ExaBGP's helper on ${node.name}: the agent, with its log in agent.log`,
              `exec ${nodeBin} ${AGENT_NODE_FLAGS.join(' ')} ${cli} agent --config ${nodePaths.agentConfig} 2>>${nodePaths.agentLog}`,
              '',
            ].join('\n')
          : [
              '#!/bin/sh',
              `# herald lab: ExaBGP's helper on ${node.name} (a fixture, not the agent)`,
              `NODE=${node.name}; CONFIG=${nodePaths.agentConfig}; ANYCAST=${plan.anycast.ipv4}`,
              `ANYCAST6=${plan.anycast.ipv6 ?? ''}; NEXTHOP6=${plan.anycast.ipv6 ? node.ipv6 : ''}`,
              `exec 2>>${nodePaths.agentLog}`,
              agent.script,
              '',
            ].join('\n');
      await writeFile(nodePaths.agentScript, script);
      await chmod(nodePaths.agentScript, 0o755);
      await writeFile(
        nodePaths.exabgpConfig,
        renderExabgpConfig(plan, node, { helper: nodePaths.agentScript, holdTime }),
      );
    }),
  );
}
