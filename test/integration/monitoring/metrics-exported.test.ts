/**
 * The monitoring kit names only metrics herald really exports: a real `herald coordinator` and a
 * real `herald agent` (ExaBGP's side played by the harness, a TLS listener as the proxy, so the
 * certificate metric is there) are scraped live, and every metric the Grafana dashboard, the
 * alerts and the recording rules read must be declared in one of those scrapes (or be a
 * recording rule of the kit, or one of the documented external exporters' metrics).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { hasOpenssl, TestPki, type LeafCert } from '../../support/certs.js';
import { requireLab } from '../../unit/ansible/support.js';
import { AgentProcess, CoordinatorProcess, HealthTarget, tempDir, waitFor } from '../coordinator/harness.js';
import {
  alertRules,
  dashboardQueries,
  EXTERNAL_METRICS,
  exportedNames,
  metricNames,
  recordingRules,
} from '../../unit/monitoring/support.js';

const skip = hasOpenssl() ? false : 'needs openssl';
if (skip && requireLab) throw new Error(`${skip} (HERALD_REQUIRE_LAB=1)`);

describe('monitoring kit against live /metrics', { skip }, () => {
  const tmp = tempDir('herald-mixin-live-');
  const coordinator = new CoordinatorProcess(tmp.dir, {
    sites: [{ name: 'lon1', region: 'eu', nodes: ['lon1-a'] }],
    policy: { minAnnouncingSites: 1 },
  });
  const health = new HealthTarget();
  let pki: TestPki;
  let leaf: LeafCert;
  let tlsServer: tls.Server;
  let agent: AgentProcess;
  let agentText = '';
  let coordinatorText = '';

  before(async () => {
    pki = await TestPki.create(`${tmp.dir}/pki`);
    leaf = await pki.issueLeaf('sip', { ips: ['127.0.0.1'] });
    tlsServer = tls.createServer({ cert: readFileSync(leaf.chain), key: readFileSync(leaf.key) }, (socket) =>
      socket.end(),
    );
    tlsServer.on('tlsClientError', () => undefined);
    tlsServer.listen(0, '127.0.0.1');
    await once(tlsServer, 'listening');
    await health.up();
    await coordinator.start();
    agent = new AgentProcess(tmp.dir, {
      node: 'lon1-a',
      site: 'lon1',
      coordinatorUrl: () => coordinator.url,
      health,
      extraChecks: () => [
        {
          name: 'sip-tls',
          type: 'tls',
          host: '127.0.0.1',
          port: (tlsServer.address() as AddressInfo).port,
          caFile: pki.ca.cert,
          timeout: 2000,
        },
      ],
    });
    await agent.start();
    const agentUrl = await agent.exabgp!.controlUrl();
    // Scrape once the node announces and the coordinator counts its site: every gauge has values.
    agentText = await waitFor(
      async () => {
        const text = await (await fetch(`${agentUrl}/metrics`)).text();
        return /^herald_route_announced\{[^}]*\} 1$/m.test(text) &&
          /^probe_ssl_earliest_cert_expiry\{/m.test(text)
          ? text
          : undefined;
      },
      'the agent to announce with its TLS check measured',
      30_000,
    );
    coordinatorText = await waitFor(
      async () => {
        const text = await (await fetch(`${coordinator.url}/metrics`)).text();
        return /^herald_coordinator_site_announcing\{site="lon1"\} 1$/m.test(text) ? text : undefined;
      },
      'the coordinator to count lon1 as announcing',
      30_000,
    );
  });

  after(async () => {
    await agent?.stop();
    await coordinator.stop();
    await health.down();
    tlsServer?.close();
    await pki?.cleanup();
    tmp.remove();
  });

  const exported = () => new Set([...exportedNames(agentText), ...exportedNames(coordinatorText)]);
  const recorded = () => new Set(recordingRules().map((r) => r.record));

  it('the scrapes carry the values the alerts compare', () => {
    const expiry = Number(/^probe_ssl_earliest_cert_expiry\{[^}]*\} (\S+)$/m.exec(agentText)?.[1]);
    // Unix seconds, as blackbox_exporter: the leaf is valid for about a year from now.
    assert.ok(
      Math.abs(expiry - leaf.notAfter.getTime() / 1000) < 2,
      `expiry ${expiry} vs ${leaf.notAfter.toISOString()}`,
    );
    assert.match(agentText, /^herald_route_desired\{prefix="198\.51\.100\.10\/32"\} 1$/m);
    assert.match(coordinatorText, /^herald_coordinator_min_announcing_sites 1$/m);
    assert.match(coordinatorText, /^herald_coordinator_agents_stale 0$/m);
  });

  it('every dashboard query names a metric herald exports or a recording rule of the kit', () => {
    const names = exported();
    const rules = recorded();
    for (const q of dashboardQueries())
      for (const name of metricNames(q.expr))
        assert.ok(
          names.has(name) || rules.has(name),
          `${q.where} reads ${name}, which herald does not export`,
        );
  });

  it('every herald metric the alerts and recording rules read is exported', () => {
    const names = exported();
    const rules = recorded();
    for (const rule of [...alertRules(), ...recordingRules()])
      for (const name of metricNames(rule.expr))
        assert.ok(
          names.has(name) || rules.has(name) || EXTERNAL_METRICS.has(name),
          `${'alert' in rule ? rule.alert : rule.record} reads ${name}, which herald does not export`,
        );
  });

  it('a misspelt metric would be caught', () => {
    assert.ok(!exported().has('herald_route_announce'));
    assert.ok(exported().has('herald_route_announced'));
  });
});
