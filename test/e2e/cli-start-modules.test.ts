/**
 * What a `herald` command line loads before it does its job. The client commands (`drain`,
 * `undrain`, `status`, `maintenance`, `audit`) and every `--help` must not load zod, the YAML
 * parser, the configuration schemas, the agent, the coordinator or the lab's process code: that
 * loading was most of the CLI's start, and a drain's propagation starts with the command. `herald
 * drain` sends its request first and loads the answer's schemas (zod) only once an answer has
 * come; bad flags are still refused with the flag, what was expected and what was received, and
 * send nothing. Commands that need the heavy parts (`herald check`) still load them.
 *
 * Runs the built CLI (dist/bin/herald.js) with a module-loading hook that records every file it
 * loads (test/support/load-recorder.mjs), mapped to the sources bundled in each file by
 * dist/bin.modules.json (written by scripts/build-cli.mjs). No timing is asserted.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';

const root = new URL('../../', import.meta.url).pathname;
const herald = join(root, 'dist/bin/herald.js');
const moduleMap = join(root, 'dist/bin.modules.json');
const recorder = join(root, 'test/support/load-recorder.mjs');

/** What a client command line must not load, by the source paths bundled into what it loaded. */
const HEAVY: Record<string, (source: string) => boolean> = {
  zod: (s) => s.startsWith('node_modules/zod/'),
  yaml: (s) => s.startsWith('node_modules/yaml/'),
  execa: (s) => s.startsWith('node_modules/execa/'),
  pino: (s) => s.startsWith('node_modules/pino/'),
  'the wire schemas': (s) => s === 'src/wire/coordinator-api.ts' || s === 'src/wire/duration.ts',
  'the config schemas': (s) => s.startsWith('src/config/') && s !== 'src/config/config-error.ts',
  'the agent': (s) => s.startsWith('src/agent/'),
  'the coordinator': (s) => s.startsWith('src/coordinator/'),
  "the lab's process code": (s) => s.startsWith('src/lab/') && s !== 'src/lab/fault-names.ts',
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** Every source file and package file bundled into the files the process loaded. */
  sources: Set<string>;
}

let work: string;
let runs = 0;

function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const log = join(work, `loads-${++runs}.txt`);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', pathToFileURL(recorder).href, herald, ...args],
      {
        cwd: root,
        env: {
          ...process.env,
          HERALD_COORDINATOR: '',
          HERALD_TOKEN: '',
          HERALD_TOKEN_FILE: '',
          ...env,
          HERALD_TEST_LOAD_LOG: log,
        },
      },
      (error, stdout, stderr) => {
        const map = JSON.parse(readFileSync(moduleMap, 'utf8')) as Record<string, string[]>;
        const binDir = pathToFileURL(join(root, 'dist/bin/')).href;
        const loaded = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
        const sources = new Set<string>();
        for (const url of loaded)
          if (url.startsWith(binDir))
            for (const source of map[url.slice(binDir.length)] ?? []) sources.add(source);
        resolve({ code: error ? Number(error.code) : 0, stdout, stderr, sources });
      },
    );
  });
}

/** The heavy parts a run loaded, by name (empty when it loaded none). */
function heavyLoaded(result: Run): string[] {
  return Object.entries(HEAVY)
    .filter(([, isPart]) => [...result.sources].some(isPart))
    .map(([name]) => name);
}

function assertLight(result: Run, what: string): void {
  // The recorder saw the command line itself: an empty list would prove nothing.
  assert.ok(result.sources.has('src/cli/main.ts'), `${what}: no load recorded (${result.stderr})`);
  assert.deepEqual(heavyLoaded(result), [], `${what} loaded more than it needs`);
}

/** A stand-in coordinator that records each request and answers with `answer`. */
class RecordingServer {
  readonly requests: { method: string; url: string; body: string }[] = [];
  private server = http.createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      this.requests.push({ method: request.method!, url: request.url!, body });
      const [status, answer] = this.answer;
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  answer: [number, unknown] = [500, {}];

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('what the herald command line loads', () => {
  const server = new RecordingServer();
  let coordinator: string;
  let unreachable: string;

  before(async () => {
    if (!existsSync(herald) || !existsSync(moduleMap))
      throw new Error(`${herald} or ${moduleMap} is missing: run npm run build`);
    work = mkdtempSync(join(tmpdir(), 'herald-cli-loads-'));
    coordinator = await server.start();
    // A port nothing listens on: bound, then closed.
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    unreachable = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
  });
  after(async () => {
    await server.close();
    rmSync(work, { recursive: true, force: true });
  });

  for (const command of [
    [],
    ['drain'],
    ['undrain'],
    ['status'],
    ['maintenance', 'add'],
    ['maintenance', 'list'],
    ['audit'],
    ['coordinator'],
    ['agent'],
    ['check'],
    ['lab', 'up'],
  ])
    test(`herald ${[...command, '--help'].join(' ')} prints its usage without the heavy parts`, async () => {
      const result = await run([...command, '--help']);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`^Usage: herald${command.map((c) => ` ${c}`).join('')} `));
      assertLight(result, `herald ${command.join(' ')} --help`);
    });

  test('herald lab fault --help still lists every fault without loading the code that presses them', async () => {
    const result = await run(['lab', 'fault', '--help']);
    assert.equal(result.code, 0, result.stderr);
    for (const fault of [
      'stop-proxy',
      'break-tls',
      'kill-exabgp',
      'stop-turn',
      'kill-coordinator',
      'kill-etcd',
    ])
      assert.match(result.stdout, new RegExp(`^  ${fault} +\\S`, 'm'), fault);
    assertLight(result, 'herald lab fault --help');
  });

  test('a drain whose coordinator is unreachable fails naming it, without the heavy parts', async () => {
    const result = await run(['drain', 'lon1', '--reason', 'kernel update', '--coordinator', unreachable], {
      HERALD_TOKEN: 'operator-token',
    });
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stderr, `herald: cannot reach the coordinator at ${unreachable}: ECONNREFUSED\n`);
    assertLight(result, 'herald drain (unreachable)');
  });

  test('undrain, status, maintenance list and audit against an unreachable coordinator stay light', async () => {
    for (const args of [['undrain', 'lon1'], ['status'], ['maintenance', 'list'], ['audit']]) {
      const result = await run([...args, '--coordinator', unreachable, '--token', 'operator-token']);
      assert.equal(result.code, 1, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, /^herald: cannot reach the coordinator at /);
      assertLight(result, `herald ${args.join(' ')} (unreachable)`);
    }
  });

  test('a bad --hold is refused naming the flag, what was expected and received, and sends nothing', async () => {
    const before = server.requests.length;
    const result = await run(['drain', 'lon1', '--reason', 'kernel update', '--hold', 'soon'], {
      HERALD_COORDINATOR: coordinator,
      HERALD_TOKEN: 'operator-token',
    });
    assert.equal(result.code, 2, result.stderr);
    assert.equal(
      result.stderr,
      'herald: --hold: expected a duration such as "30s", "10m" or "2h", received "soon"\n',
    );
    assert.equal(server.requests.length, before, 'a refused command sent a request');
    assertLight(result, 'herald drain --hold soon');
  });

  test('a bad --override names the rules it accepts and sends nothing', async () => {
    const before = server.requests.length;
    const result = await run(['drain', 'lon1', '--reason', 'kernel update', '--override', 'floor=because'], {
      HERALD_COORDINATOR: coordinator,
      HERALD_TOKEN: 'operator-token',
    });
    assert.equal(result.code, 2, result.stderr);
    assert.equal(
      result.stderr,
      'herald: --override: expected RULE="reason" with RULE one of minAnnouncingSites, regionFloor, maxConcurrentDrains, maxConcurrentDrainsPerRegion, received "floor=because"\n',
    );
    assert.equal(server.requests.length, before, 'a refused command sent a request');
    assertLight(result, 'herald drain --override floor=because');
  });

  test('a drain sends its request, then parses the answer with the wire schemas (a refusal, exit 3)', async () => {
    server.answer = [
      409,
      {
        error: {
          status: 409,
          code: 'refused',
          message: 'refused by policy',
          rules: [
            {
              rule: 'minAnnouncingSites',
              message: 'only 2 sites would still announce; at least 3 must',
              retryable: true,
            },
          ],
        },
      },
    ];
    const before = server.requests.length;
    const result = await run(
      [
        'drain',
        'lon1',
        '--reason',
        'kernel update',
        '--hold',
        '0s',
        '--override',
        'regionFloor=eu has spare',
      ],
      { HERALD_COORDINATOR: coordinator, HERALD_TOKEN: 'operator-token' },
    );
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, /^herald: drain of lon1 refused by minAnnouncingSites; nothing changed:/);
    assert.match(result.stderr, /only 2 sites would still announce/);
    const sent = server.requests.slice(before);
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.method, 'POST');
    assert.equal(sent[0]!.url, '/api/v1/drains');
    assert.deepEqual(JSON.parse(sent[0]!.body), {
      site: 'lon1',
      reason: 'kernel update',
      hold: 0,
      overrides: [{ rule: 'regionFloor', reason: 'eu has spare' }],
      dryRun: false,
    });
    // The answer was read with the same schemas as before: zod is loaded, after the request.
    assert.ok(result.sources.has('src/cli/client/answer-schemas.ts'));
    assert.ok(heavyLoaded(result).includes('zod'));
  });

  test('herald check still loads the YAML parser and the schemas it needs', async () => {
    const result = await run(['check', '-c', join(root, 'config/agent.example.yaml')]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(
      heavyLoaded(result).filter(
        (name) => name === 'zod' || name === 'yaml' || name === 'the config schemas',
      ),
      ['zod', 'yaml', 'the config schemas'],
    );
  });
});
