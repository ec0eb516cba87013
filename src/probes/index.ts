/**
 * Turns a validated check config into its probe, and names a check for status and metric
 * labels. Files a check names (caFile, expectedCertFile) are read once here; a file that
 * cannot be read makes every result of that probe "down" with the file named.
 */
import type { CheckConfig } from '../config/agent-schema.js';
import { createExecProbe } from './exec.js';
import { loadPemCertificate } from './pem-files.js';
import { createSipOptionsProbe } from './sip-options.js';
import { createStunProbe } from './stun.js';
import { createTcpProbe } from './tcp.js';
import { createTlsProbe } from './tls.js';
import { loadSecretFile } from './secret-file.js';
import { createTurnProbe } from './turn.js';
import type { TurnSecret } from './turn-credentials.js';
import type { Probe, ProbeResult } from './types.js';

export type { Probe, ProbeContext, ProbeResult, ProbeStatus } from './types.js';
export { DEFAULT_SIP_PORTS } from './sip-options.js';
export { DEFAULT_STUN_PORTS } from './stun.js';

export interface CheckLabels {
  name: string;
  type: CheckConfig['type'];
  /** udp/tcp/tls for SIP and STUN; "tls" for the TLS check, "tcp" for the TCP check; absent for exec. */
  transport?: 'udp' | 'tcp' | 'tls';
}

export function describeCheck(check: CheckConfig): CheckLabels {
  switch (check.type) {
    case 'sip-options':
    case 'stun':
    case 'turn':
      return { name: check.name, type: check.type, transport: check.transport };
    case 'tls':
      return { name: check.name, type: check.type, transport: 'tls' };
    case 'tcp':
      return { name: check.name, type: check.type, transport: 'tcp' };
    case 'exec':
      return { name: check.name, type: check.type };
  }
}

/** A probe that always fails with the same reason (a configured file that cannot be used). */
function failingProbe(detail: string): Probe {
  return (): Promise<ProbeResult> =>
    Promise.resolve({ status: 'down', detail, durationMs: 0, answered: false });
}

function loadTurnSecret(
  credentials: Extract<CheckConfig, { type: 'turn' }>['credentials'],
): { ok: true; secret: TurnSecret } | { ok: false; detail: string } {
  if (credentials.secretFile !== undefined) {
    const loaded = loadSecretFile(credentials.secretFile, 'credentials.secretFile');
    if (!loaded.ok) return loaded;
    const ttlSeconds = Math.round(credentials.ttl / 1000);
    return {
      ok: true,
      secret: { kind: 'shared-secret', secret: loaded.secret, name: credentials.name, ttlSeconds },
    };
  }
  // The schema guarantees username and passwordFile together when there is no secretFile.
  const loaded = loadSecretFile(credentials.passwordFile ?? '', 'credentials.passwordFile');
  if (!loaded.ok) return loaded;
  return {
    ok: true,
    secret: { kind: 'static', username: credentials.username ?? '', password: loaded.secret },
  };
}

export function createProbe(check: CheckConfig): Probe {
  switch (check.type) {
    case 'sip-options': {
      if (check.transport !== 'tls' || !check.caFile) return createSipOptionsProbe(check);
      const ca = loadPemCertificate(check.caFile, 'caFile');
      return ca.ok ? createSipOptionsProbe({ ...check, caPem: ca.pem }) : failingProbe(ca.detail);
    }
    case 'stun': {
      if (check.transport !== 'tls' || !check.caFile) return createStunProbe(check);
      const ca = loadPemCertificate(check.caFile, 'caFile');
      return ca.ok ? createStunProbe({ ...check, caPem: ca.pem }) : failingProbe(ca.detail);
    }
    case 'turn': {
      const secret = loadTurnSecret(check.credentials);
      if (!secret.ok) return failingProbe(secret.detail);
      if (check.transport !== 'tls' || !check.caFile)
        return createTurnProbe({ ...check, secret: secret.secret });
      const ca = loadPemCertificate(check.caFile, 'caFile');
      return ca.ok
        ? createTurnProbe({ ...check, secret: secret.secret, caPem: ca.pem })
        : failingProbe(ca.detail);
    }
    case 'tls': {
      const ca = check.caFile ? loadPemCertificate(check.caFile, 'caFile') : undefined;
      if (ca && !ca.ok) return failingProbe(ca.detail);
      const expected = check.expectedCertFile
        ? loadPemCertificate(check.expectedCertFile, 'expectedCertFile')
        : undefined;
      if (expected && !expected.ok) return failingProbe(expected.detail);
      return createTlsProbe({ ...check, caPem: ca?.pem, expectedFingerprint256: expected?.fingerprint256 });
    }
    case 'tcp':
      return createTcpProbe(check);
    case 'exec':
      return createExecProbe(check);
  }
}
