/**
 * Where every file of a lab run lives, under one run directory (e.g. /tmp/herald-lab-k3x9qa/).
 * Pure: the same paths are derived again from the state file by later `herald lab` commands.
 */
import { join } from 'node:path';
import type { LabPlan } from './plan.js';

export interface NodePaths {
  dir: string;
  kamailioConfig: string;
  kamailioTlsConfig: string;
  kamailioPidFile: string;
  kamailioRunDir: string;
  kamailioCtl: string;
  kamailioLog: string;
  /** The certificate and key Kamailio serves (a copy per node, so one node's TLS can be broken alone). */
  tlsCert: string;
  tlsKey: string;
  exabgpConfig: string;
  exabgpLog: string;
  /** The helper ExaBGP runs: a wrapper that execs the agent with its stderr in agentLog. */
  agentScript: string;
  agentConfig: string;
  agentLog: string;
  maintenanceFile: string;
  stateDir: string;
}

export interface RouterPaths {
  dir: string;
  birdConfig: string;
  birdSocket: string;
  birdPidFile: string;
  birdLog: string;
}

export interface LabPaths {
  runDir: string;
  stateFile: string;
  /** Unix socket of the control relay (HTTP to any agent's control API, from any namespace). */
  controlRelaySocket: string;
  controlRelayLog: string;
  certs: {
    dir: string;
    caCert: string;
    caKey: string;
    /** The good server certificate and key (copied into each node). */
    serverCert: string;
    serverKey: string;
    /** Expired certificate and key for the break-tls fault. */
    expiredCert: string;
    expiredKey: string;
  };
  coordinator: { dir: string; config: string; log: string; database: string };
  nodes: Record<string, NodePaths>;
  routers: Record<string, RouterPaths>;
}

export function labPaths(runDir: string, plan: LabPlan): LabPaths {
  const certDir = join(runDir, 'certs');
  const nodes: Record<string, NodePaths> = {};
  for (const node of plan.nodes) {
    const dir = join(runDir, 'nodes', node.name);
    nodes[node.name] = {
      dir,
      kamailioConfig: join(dir, 'kamailio.cfg'),
      kamailioTlsConfig: join(dir, 'tls.cfg'),
      kamailioPidFile: join(dir, 'kamailio.pid'),
      kamailioRunDir: join(dir, 'kamailio-run'),
      kamailioCtl: join(dir, 'kamailio.ctl'),
      kamailioLog: join(dir, 'kamailio.log'),
      tlsCert: join(dir, 'tls-cert.pem'),
      tlsKey: join(dir, 'tls-key.pem'),
      exabgpConfig: join(dir, 'exabgp.conf'),
      exabgpLog: join(dir, 'exabgp.log'),
      agentScript: join(dir, 'run-agent.sh'),
      agentConfig: join(dir, 'agent.yaml'),
      agentLog: join(dir, 'agent.log'),
      maintenanceFile: join(dir, 'maintenance'),
      stateDir: join(dir, 'state'),
    };
  }
  const routers: Record<string, RouterPaths> = {};
  for (const router of plan.routers) {
    const dir = join(runDir, 'routers', router.region);
    routers[router.region] = {
      dir,
      birdConfig: join(dir, 'bird.conf'),
      birdSocket: join(dir, 'bird.ctl'),
      birdPidFile: join(dir, 'bird.pid'),
      birdLog: join(dir, 'bird.log'),
    };
  }
  const coordinatorDir = join(runDir, 'coordinator');
  return {
    runDir,
    stateFile: join(runDir, 'state.json'),
    controlRelaySocket: join(runDir, 'control-relay.sock'),
    controlRelayLog: join(runDir, 'control-relay.log'),
    certs: {
      dir: certDir,
      caCert: join(certDir, 'ca.pem'),
      caKey: join(certDir, 'ca-key.pem'),
      serverCert: join(certDir, 'server.pem'),
      serverKey: join(certDir, 'server-key.pem'),
      expiredCert: join(certDir, 'expired.pem'),
      expiredKey: join(certDir, 'expired-key.pem'),
    },
    coordinator: {
      dir: coordinatorDir,
      config: join(coordinatorDir, 'coordinator.yaml'),
      log: join(coordinatorDir, 'coordinator.log'),
      database: join(coordinatorDir, 'coordinator.db'),
    },
    nodes,
    routers,
  };
}
