import assert from 'node:assert/strict';
import { test } from 'node:test';
import { agentRunConfigFile } from '../../../src/cli/agent-run-args.js';

test('the agent run line is recognized in its three spellings', () => {
  assert.equal(agentRunConfigFile(['agent', '--config', '/etc/herald/agent.yaml']), '/etc/herald/agent.yaml');
  assert.equal(agentRunConfigFile(['agent', '-c', 'a.yaml']), 'a.yaml');
  assert.equal(agentRunConfigFile(['agent', '--config=a.yaml']), 'a.yaml');
});

test('anything else goes to the full parser (help, other commands, extra or missing words)', () => {
  for (const args of [
    [],
    ['agent'],
    ['agent', '--help'],
    ['agent', '--config'],
    ['agent', '--config='],
    ['agent', '--config', '--help'],
    ['agent', '--config', 'a.yaml', '--bogus'],
    ['agent', '-c', 'a.yaml', 'extra'],
    ['check', '--config', 'a.yaml'],
    ['coordinator', '--config', 'a.yaml'],
  ])
    assert.equal(agentRunConfigFile(args), undefined, JSON.stringify(args));
});
