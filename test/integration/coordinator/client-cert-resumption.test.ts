/**
 * Client certificates and TLS 1.3 session resumption (a bypass found here, fixed in
 * src/coordinator/http/guard.ts).
 *
 * Node's TLS server marks a resumed TLS 1.3 session `authorized` even when the client never
 * presented a certificate (it treats resumption like PSK authentication). The guard decides
 * "has a verified client certificate" from `socket.authorized` alone, so a client without a
 * certificate is refused on its first connection and, on any later connection that resumes
 * that session (an https.Agent caches sessions by default), before the fix:
 * - for a non-agent role in requireClientCert (e.g. operator): let in — the requirement is bypassed;
 * - for an agent: still refused, by the node-name check, but as "a client certificate naming
 *   node X, received one naming nothing" instead of "received none".
 * A session that did carry a certificate keeps it on resumption (getPeerCertificate() returns it),
 * so requiring a non-empty peer certificate besides `authorized` fixes both without refusing
 * resumed sessions of real agents.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { coordinatorConfigSchema } from '../../../src/coordinator/config-schema.js';
import { startCoordinator, type RunningCoordinator } from '../../../src/coordinator/run-coordinator.js';
import { SqliteStore } from '../../../src/coordinator/store/sqlite-store.js';
import { opensslSkip, TestPki } from '../../support/certs.js';
import { issueClientCert } from '../../support/client-certs.js';
import { tempDir, TOKENS } from './harness.js';

interface Answer {
  status: number;
  body: { error?: { code?: string; message?: string } } | null;
  reused: boolean;
}

describe('client certificates on resumed TLS sessions ', { skip: opensslSkip() }, () => {
  const tmp = tempDir('herald-mtls-resume-');
  let running: RunningCoordinator;
  let ca: Buffer;
  let lon1: { cert: Buffer; key: Buffer };

  before(async () => {
    const pki = await TestPki.create(join(tmp.dir, 'pki'));
    const agentsCa = await pki.createCa('agents-ca');
    const leaf = await pki.issueLeaf('coordinator', { ips: ['127.0.0.1'], dns: ['localhost'] });
    const files = await issueClientCert(pki, agentsCa, 'lon1-a');
    lon1 = { cert: readFileSync(files.cert), key: readFileSync(files.key) };
    ca = readFileSync(pki.ca.cert);
    running = await startCoordinator(
      coordinatorConfigSchema.parse({
        listen: {
          host: '127.0.0.1',
          port: 0,
          tls: {
            certFile: leaf.chain,
            keyFile: leaf.key,
            clientCa: agentsCa.cert,
            requireClientCert: ['agent', 'operator'],
          },
        },
        dataDir: join(tmp.dir, 'coordinator'),
        inventory: {
          sites: [{ name: 'lon1', region: 'eu', location: { lat: 0, lon: 0 }, nodes: ['lon1-a'] }],
        },
        policy: { minAnnouncingSites: 0 },
        tokens: [
          { name: 'alice', role: 'operator', token: TOKENS.alice },
          { name: 'agent-lon1-a', role: 'agent', node: 'lon1-a', token: TOKENS.agent('lon1-a') },
        ],
      }),
      { logger: pino({ level: 'silent' }), store: new SqliteStore(':memory:'), extensions: [] },
    );
  });

  after(async () => {
    await running?.close();
    tmp.remove();
  });

  /** Three requests, each on a new connection of one https.Agent (which resumes its TLS session). */
  async function threeConnections(
    path: string,
    token: string,
    cert?: { cert: Buffer; key: Buffer },
  ): Promise<Answer[]> {
    const agent = new https.Agent({ keepAlive: false });
    const answers: Answer[] = [];
    for (let i = 0; i < 3; i++)
      answers.push(
        await new Promise<Answer>((resolve, reject) => {
          https
            .get(
              running.server.url + path,
              { agent, ca, ...(cert ?? {}), headers: { authorization: `Bearer ${token}` } },
              (response) => {
                const chunks: Buffer[] = [];
                response.on('data', (c: Buffer) => chunks.push(c));
                response.on('end', () => {
                  const text = Buffer.concat(chunks).toString('utf8');
                  resolve({
                    status: response.statusCode!,
                    body: response.headers['content-type']?.startsWith('application/json')
                      ? JSON.parse(text)
                      : null,
                    reused: (response.socket as import('node:tls').TLSSocket).isSessionReused(),
                  });
                });
              },
            )
            .on('error', reject);
        }),
      );
    return answers;
  }

  it('a resumed session of a client with a certificate keeps it (the fix must not refuse these)', async () => {
    const answers = await threeConnections('/api/v1/status', TOKENS.alice, lon1);
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 200],
    );
    assert.ok(
      answers.slice(1).some((a) => a.reused),
      'the later connections resume the session',
    );
  });

  it('an operator without a certificate stays refused on resumed sessions', async () => {
    const answers = await threeConnections('/api/v1/status', TOKENS.alice);
    assert.ok(
      answers.slice(1).some((a) => a.reused),
      'the later connections resume the session',
    );
    assert.deepEqual(
      answers.map((a) => a.status),
      [403, 403, 403],
    );
  });

  it('an agent without a certificate is told "received none" on resumed sessions too', async () => {
    const answers = await threeConnections('/api/v1/agents/lon1-a/desired', TOKENS.agent('lon1-a'));
    assert.deepEqual(
      answers.map((a) => a.status),
      [403, 403, 403],
    );
    for (const answer of answers)
      assert.equal(
        answer.body?.error?.message,
        'expected a client certificate for a agent token, received none',
      );
  });
});
