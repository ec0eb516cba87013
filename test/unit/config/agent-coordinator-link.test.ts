/**
 * The agent's `coordinator` section: the token rule, and the client certificate (certFile and
 * keyFile together, over https: only). Problems name the field as `path: expected X, received Y`.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { agentConfigSchema } from '../../../src/config/agent-schema.js';
import { ConfigError, validateConfig } from '../../../src/config/load.js';

const base = {
  node: 'lon1-a',
  site: 'lon1',
  prefixes: ['198.51.100.10/32'],
  bgp: { localAs: 65001 },
  checks: [{ name: 'sip-udp', type: 'sip-options', transport: 'udp' }],
};

const withCoordinator = (coordinator: Record<string, unknown>) =>
  validateConfig(agentConfigSchema, { ...base, coordinator }, 'agent.yaml');

/** The problems of an invalid coordinator section. */
function problems(coordinator: Record<string, unknown>): string[] {
  try {
    withCoordinator(coordinator);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

const link = { url: 'https://herald.example.net:9180', tokenFile: '/etc/herald/agent.token' };

describe('agent config: coordinator section', () => {
  test('caFile, certFile and keyFile are kept as given', () => {
    const config = withCoordinator({
      ...link,
      caFile: '/etc/herald/coordinator-ca.pem',
      certFile: '/etc/herald/agent.crt',
      keyFile: '/etc/herald/agent.key',
    });
    assert.deepEqual(config.coordinator, {
      ...link,
      caFile: '/etc/herald/coordinator-ca.pem',
      certFile: '/etc/herald/agent.crt',
      keyFile: '/etc/herald/agent.key',
      heartbeat: 5000,
    });
  });

  test('no client certificate is fine (a coordinator without clientCa)', () => {
    const config = withCoordinator(link);
    assert.equal(config.coordinator?.certFile, undefined);
    assert.equal(config.coordinator?.keyFile, undefined);
  });

  test('certFile without keyFile names keyFile', () => {
    assert.deepEqual(problems({ ...link, certFile: '/etc/herald/agent.crt' }), [
      "coordinator.keyFile: expected the client certificate's private key with certFile, received nothing",
    ]);
  });

  test('keyFile without certFile names certFile', () => {
    assert.deepEqual(problems({ ...link, keyFile: '/etc/herald/agent.key' }), [
      'coordinator.certFile: expected the client certificate with keyFile, received nothing',
    ]);
  });

  test('a client certificate over plain http is refused (it would never be presented)', () => {
    assert.deepEqual(
      problems({
        ...link,
        url: 'http://herald.example.net:9180',
        certFile: '/etc/herald/agent.crt',
        keyFile: '/etc/herald/agent.key',
      }),
      [
        'coordinator.url: expected an https: url to present the client certificate (certFile, keyFile) over, received "http://herald.example.net:9180"',
      ],
    );
  });

  test('url takes a list of replicas; every entry is checked and named', () => {
    const urls = ['https://herald-1.example.net:9180', 'https://herald-2.example.net:9180'];
    assert.deepEqual(withCoordinator({ ...link, url: urls }).coordinator?.url, urls);
    const found = problems({ ...link, url: [urls[0], 'not a url'] });
    assert.ok(
      found.some((p) => p.startsWith('coordinator.url')),
      found.join('\n'),
    );
    assert.ok(
      problems({ ...link, url: [] }).some((p) => p.startsWith('coordinator.url')),
      'an empty list is refused',
    );
    assert.deepEqual(
      problems({
        ...link,
        url: [urls[0], 'http://herald-2.example.net:9180'],
        certFile: '/c',
        keyFile: '/k',
      }),
      [
        'coordinator.url: expected an https: url to present the client certificate (certFile, keyFile) over, received "http://herald-2.example.net:9180"',
      ],
    );
  });

  test('empty paths and unknown fields are named', () => {
    const found = problems({ ...link, certFile: '', keyFile: '/k', clientCert: '/c' });
    assert.ok(
      found.includes('coordinator.certFile: expected at least 1 characters, received ""'),
      found.join('\n'),
    );
    assert.ok(
      found.includes('coordinator.clientCert: expected no such field, received "/c"'),
      found.join('\n'),
    );
  });

  test('every rule of the section is reported at once, the token rule included', () => {
    const found = problems({ url: link.url, certFile: '/etc/herald/agent.crt' });
    assert.deepEqual(found, [
      'coordinator.token: expected exactly one of token or tokenFile, received nothing',
      "coordinator.keyFile: expected the client certificate's private key with certFile, received nothing",
    ]);
  });
});
