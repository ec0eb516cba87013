/**
 * The coordinator's config: the example file is valid, defaults are filled in, and mistakes
 * are named with their path, what was expected and what was received.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { coordinatorConfigSchema } from '../../../src/coordinator/config-schema.js';
import { ConfigError, loadConfigFile, validateConfig } from '../../../src/config/load.js';

const example = fileURLToPath(new URL('../../../config/coordinator.example.yaml', import.meta.url));

function problems(input: unknown): string[] {
  try {
    validateConfig(coordinatorConfigSchema, input, 'test.yaml');
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

const site = (name: string, nodes: string[]) => ({ name, region: 'eu', location: { lat: 0, lon: 0 }, nodes });

describe('coordinator config', () => {
  it('accepts the example and fills in defaults', () => {
    const config = loadConfigFile(coordinatorConfigSchema, example);
    assert.equal(config.inventory.sites.length, 3);
    assert.deepEqual(config.store, { engine: 'sqlite', file: 'coordinator.db' });
    assert.equal(config.policy.defaultHold, 30_000);
    assert.equal(config.agents.staleAfter, 15_000);
  });

  it('names every mistake', () => {
    const found = problems({
      listen: { port: 70000, tls: { certFile: 'c.pem' } },
      inventory: { sites: [site('lon1', ['a']), site('lon1', ['a'])] },
      policy: { minAnnouncingSites: -1 },
      tokens: [
        { name: 'x', role: 'agent', token: 'short' },
        { name: 'y', role: 'viewer', node: 'a', token: 'a-long-enough-token-000' },
        { name: 'z', role: 'agent', node: 'ghost', tokenFile: '/t', token: 'a-long-enough-token-000' },
      ],
    });
    for (const expected of [
      'listen.port: expected at most 65535, received 70000 (number)',
      'listen.tls.keyFile: expected string, received nothing',
      'policy.minAnnouncingSites: expected at least 0, received -1 (number)',
      'tokens.0.token: expected at least 16 characters, received "short"',
    ])
      assert.ok(found.includes(expected), `${expected}\nin:\n${found.join('\n')}`);
    assert.ok(
      found.some((p) => p.startsWith('tokens.0.node: expected the node this agent token speaks for')),
    );
  });

  it('checks the inventory and tokens against each other', () => {
    const found = problems({
      inventory: { sites: [site('lon1', ['a']), site('lon1', ['a'])] },
      tokens: [
        { name: 'y', role: 'viewer', node: 'a', token: 'a-long-enough-token-000' },
        { name: 'z', role: 'agent', node: 'ghost', tokenFile: '/t', token: 'a-long-enough-token-000' },
      ],
    });
    for (const start of [
      'inventory.sites.1.name: expected a unique site name, received "lon1" twice',
      'inventory.sites.1.nodes.0: expected each node in one site only',
      'tokens.0.node: expected no node for a viewer token',
      'tokens.1.token: expected exactly one of token, tokenFile or tokenSha256, received 2',
      'tokens.1.node: expected a node of the inventory, received "ghost"',
    ])
      assert.ok(
        found.some((p) => p.startsWith(start)),
        `${start}\nin:\n${found.join('\n')}`,
      );
  });

  it('takes the store engine: sqlite by default (also as the older `type: sqlite`), or etcd', () => {
    const base = {
      inventory: { sites: [site('lon1', ['a'])] },
      tokens: [{ name: 'x', role: 'operator', token: 'a-long-enough-token-000' }],
    };
    const legacy = validateConfig(
      coordinatorConfigSchema,
      { ...base, store: { type: 'sqlite', file: 'x.db' } },
      't',
    );
    assert.deepEqual(legacy.store, { engine: 'sqlite', file: 'x.db' });
    const etcd = validateConfig(
      coordinatorConfigSchema,
      { ...base, store: { engine: 'etcd', endpoints: ['https://etcd1:2379'], tls: { caFile: '/ca.pem' } } },
      't',
    );
    assert.deepEqual(etcd.store, {
      engine: 'etcd',
      endpoints: ['https://etcd1:2379'],
      prefix: '/herald/',
      timeout: 5000,
      healthInterval: 1000,
      leaseTtl: 10_000,
      tls: { caFile: '/ca.pem' },
    });
    const found = problems({
      ...base,
      store: {
        engine: 'etcd',
        endpoints: ['etcd1:2379'],
        prefix: 'herald',
        tls: { caFile: '/ca', certFile: '/c' },
      },
    });
    for (const start of [
      'store.endpoints.0: expected an etcd client URL such as https://etcd1:2379',
      'store.prefix: expected a key prefix such as /herald/',
      'store.tls: expected certFile and keyFile together',
    ])
      assert.ok(
        found.some((p) => p.startsWith(start)),
        `${start}\nin:\n${found.join('\n')}`,
      );
    assert.ok(problems({ ...base, store: { engine: 'mysql' } }).some((p) => p.startsWith('store.engine')));
  });
});
