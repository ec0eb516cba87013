/**
 * The config loaders under arbitrary YAML: random YAML-looking text, the example files damaged
 * character by character or with fields replaced, deleted and added, any JSON value, and
 * documents that attack the YAML parser (alias bombs, unresolved aliases, deep nesting, tags).
 *
 * What a user relies on: `herald agent`/`herald check` either get a fully valid configuration or
 * a ConfigError (exit 2) whose every problem is one line "where: expected X, received Y" —
 * never another exception (exit 1 with a stack trace), never a hang. The parser attacks
 * (yamlAttacks) are slow to parse by design and run once each, outside the generated cases.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import type { z } from 'zod';
import { agentConfigSchema } from '../../../src/config/agent-schema.js';
import { ConfigError, loadConfigFile } from '../../../src/config/load.js';
import { coordinatorConfigSchema } from '../../../src/coordinator/config-schema.js';
import { damagedText, hostileJson, mutated, yamlAttacks, yamlishText } from '../support/arbitraries.js';

export { yamlAttacks };
import { scratchDir } from '../support/tmp.js';
import type { HardeningProperty } from './types.js';

const root = new URL('../../../', import.meta.url);
const agentExample = readFileSync(new URL('config/agent.example.yaml', root), 'utf8');
const coordinatorExample = readFileSync(new URL('config/coordinator.example.yaml', root), 'utf8');

/** Longest problem line a person should have to read. */
const MAX_PROBLEM_LENGTH = 600;

export function yamlInput(example: string): fc.Arbitrary<string> {
  const document = parse(example) as unknown;
  return fc.oneof(
    { weight: 2, arbitrary: yamlishText },
    { weight: 2, arbitrary: damagedText(example) },
    // JSON is YAML too, and much cheaper to write out than block YAML.
    { weight: 3, arbitrary: mutated(document).map((value) => JSON.stringify(value) ?? '') },
    { weight: 1, arbitrary: mutated(document).map((value) => stringify(value) ?? '') },
    { weight: 1, arbitrary: hostileJson.map((value) => stringify(value) ?? '') },
  );
}

/** Loads `text` as a config file; returns the ConfigError's problems, or null when it is valid. */
export function loadProblems(schema: z.ZodType, text: string, dir: string): string[] | null {
  const file = join(dir, 'config.yaml');
  writeFileSync(file, text);
  try {
    loadConfigFile(schema, file);
    return null;
  } catch (error) {
    assert.ok(
      error instanceof ConfigError,
      `expected a ConfigError, got ${(error as Error)?.constructor?.name}: ${String((error as Error)?.message).slice(0, 300)}`,
    );
    return error.problems;
  }
}

/** Every problem is one line "where: expected X, received Y" of readable length. */
export function assertClearProblems(problems: readonly string[]): void {
  assert.ok(problems.length > 0, 'an error without problems');
  for (const problem of problems) {
    assert.equal(typeof problem, 'string');
    assert.doesNotMatch(problem, /[\r\n]/, `a problem spans lines: ${JSON.stringify(problem.slice(0, 200))}`);
    assert.ok(problem.length <= MAX_PROBLEM_LENGTH, `a problem of ${problem.length} characters`);
    assert.match(problem, /^[^\n]*?: expected .*received/, `unclear problem: ${problem.slice(0, 200)}`);
  }
}

function configProperty(name: string, schema: z.ZodType, example: string): HardeningProperty {
  return {
    name,
    parser: `loadConfigFile with the ${name.replace('-yaml', '')} schema (YAML text → ConfigError or a valid config)`,
    async check(numRuns, seed) {
      const { dir, remove } = scratchDir('herald-hardening-config-');
      try {
        fc.assert(
          fc.property(yamlInput(example), (text) => {
            const started = performance.now();
            const problems = loadProblems(schema, text, dir);
            assert.ok(performance.now() - started < 5000, 'loading took more than 5 s');
            if (problems !== null) assertClearProblems(problems);
          }),
          { numRuns, seed },
        );
      } finally {
        remove();
      }
    },
  };
}

export const agentConfigProperty = configProperty('agent-config-yaml', agentConfigSchema, agentExample);
export const coordinatorConfigProperty = configProperty(
  'coordinator-config-yaml',
  coordinatorConfigSchema,
  coordinatorExample,
);
