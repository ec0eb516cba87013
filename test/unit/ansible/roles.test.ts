/**
 * The conventions the roles promise their users, checked on the files themselves: every
 * variable in defaults/ is prefixed with the role's name and explained by a comment, every input
 * is declared in meta/argument_specs.yml (with the same default), required inputs are documented
 * in defaults/ as commented examples, and task names are full sentences.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { ansibleDir } from './support.js';

const rolesDir = join(ansibleDir, 'roles');
const roles = readdirSync(rolesDir).filter((name) => existsSync(join(rolesDir, name, 'defaults/main.yml')));

interface SpecOption {
  type?: string;
  required?: boolean;
  default?: unknown;
}

function specOptions(role: string): Record<string, SpecOption> {
  const specs = parse(readFileSync(join(rolesDir, role, 'meta/argument_specs.yml'), 'utf8')) as {
    argument_specs: { main: { options: Record<string, SpecOption> } };
  };
  return specs.argument_specs.main.options;
}

function yamlFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return yamlFiles(path);
    return entry.name.endsWith('.yml') ? [path] : [];
  });
}

/** Every task (and block) in a list of tasks, blocks' children included. */
function tasksIn(list: unknown): Record<string, unknown>[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((task: Record<string, unknown>) => [
    task,
    ...tasksIn(task.block),
    ...tasksIn(task.rescue),
    ...tasksIn(task.always),
  ]);
}

describe('ansible roles', () => {
  it('has the three roles', () => {
    assert.deepEqual([...roles].sort(), ['herald_agent', 'herald_coordinator', 'herald_release']);
  });

  for (const role of roles) {
    describe(role, () => {
      const defaultsText = readFileSync(join(rolesDir, role, 'defaults/main.yml'), 'utf8');
      const defaults = parse(defaultsText) as Record<string, unknown>;
      const options = specOptions(role);

      it('prefixes every variable in defaults/ with the role name and explains it in a comment', () => {
        let commented = false;
        for (const [index, line] of defaultsText.split('\n').entries()) {
          if (line.trim() === '') commented = false;
          else if (line.startsWith('#')) commented = true;
          else if (/^[A-Za-z_]\w*:/.test(line)) {
            const name = line.slice(0, line.indexOf(':'));
            assert.ok(name.startsWith(`${role}_`), `${role} defaults line ${index + 1}: ${name} lacks the prefix ${role}_`);
            assert.ok(commented, `${role} defaults line ${index + 1}: ${name} has no comment above it`);
          }
        }
      });

      it('declares every default in argument_specs, with the same literal default', () => {
        for (const [name, value] of Object.entries(defaults)) {
          const option = options[name];
          assert.ok(option, `${name} is in defaults/main.yml but not in meta/argument_specs.yml`);
          const templated = JSON.stringify(value).includes('{{');
          if (!templated && option.default !== undefined)
            assert.deepEqual(option.default, value, `${name}: argument_specs default differs from defaults/main.yml`);
        }
      });

      it('documents every required input in defaults/ as a commented example', () => {
        for (const [name, option] of Object.entries(options))
          if (option.required && !(name in defaults))
            assert.match(defaultsText, new RegExp(`^# ${name}:`, 'm'), `${name} is required but not shown in defaults/`);
      });

      it('names every task with a full sentence', () => {
        for (const file of yamlFiles(join(rolesDir, role, 'tasks')))
          for (const task of tasksIn(parse(readFileSync(file, 'utf8')))) {
            const name = String(task.name ?? '');
            assert.match(name, /^[A-Z].*\.$/, `${relative(ansibleDir, file)}: task "${name}" is not a full sentence`);
          }
      });
    });
  }

  it('names every task of the playbooks with a full sentence', () => {
    for (const file of ['site.yml', 'rollout.yml', 'tasks/rollout-change.yml']) {
      const document = parse(readFileSync(join(ansibleDir, file), 'utf8')) as Record<string, unknown>[];
      const tasks = file.startsWith('tasks/') ? tasksIn(document) : document.flatMap((play) => [play, ...tasksIn(play.tasks)]);
      for (const task of tasks) assert.match(String(task.name ?? ''), /^[A-Z].*\.$/, `${file}: "${String(task.name)}"`);
    }
  });
});
