/**
 * `herald lab` as a person uses it, through the compiled CLI: up (in the foreground), a second up
 * refused, status/client/fault against the running lab, Ctrl-C removing everything, a killed
 * owner cleaned up by `lab down`, and a clear refusal without root. With --demo the agents get the
 * TURN pre-drain: a relay session held by `lab client --turn --seconds` keeps a local drain waiting,
 * the route announced, until the session ends.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { hostPidsNaming } from '../../src/lab/host-processes.js';
import { listNamespaces } from '../../src/lab/network.js';
import { compiledCli } from '../../src/lab/runtime.js';
import { waitFor } from '../../src/lab/wait.js';
import { labSkip, noteOutcome } from '../support/lab.js';

const skip = labSkip({ needsAgent: true });
let lockDir: string;
/** Run directories of this file's labs go here, so `lab gc` only ever sees this file's runs. */
let runBase: string;
const env = () => ({ ...process.env, HERALD_LAB_LOCK_DIR: lockDir, TMPDIR: runBase });

/** The check runs the CLI as user nobody, who must be able to reach the checkout (a CI clone may sit in a 0700 directory). */
function unreadableByNobody(): string | false {
  const probe = spawnSync('setpriv', [
    '--reuid',
    '65534',
    '--regid',
    '65534',
    '--clear-groups',
    'test',
    '-r',
    compiledCli(),
  ]);
  return probe.status === 0
    ? false
    : `user nobody cannot read ${compiledCli()} (a parent directory is private)`;
}

function cli(args: string[], options: { user?: number } = {}) {
  const command = options.user !== undefined ? 'setpriv' : process.execPath;
  const prefix =
    options.user !== undefined
      ? ['--reuid', String(options.user), '--regid', String(options.user), '--clear-groups', process.execPath]
      : [];
  const result = spawnSync(command, [...prefix, compiledCli(), ...args], { env: env(), timeout: 60_000 });
  return { status: result.status, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

interface LabNodeReport {
  name: string;
  agent: { drains?: string[]; preDrain?: { phase: string; count?: number; reason?: string } };
}
interface LabRouteReport {
  snapshots: {
    routers: {
      router: string;
      best?: { node?: string };
      routes: { node?: string; gracefulShutdown?: boolean }[];
    }[];
  }[];
  nodes: LabNodeReport[];
}

interface Owner {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  runDir: string;
  namespaces: string[];
}

/** Starts `herald lab up` in the foreground and waits for its "is up" line. */
async function labUp(
  name: string,
  args = ['--topology', 'single', '--no-ipv6', '--no-host-link', '--agent', 'announce-only'],
): Promise<Owner> {
  const before = new Set(await listNamespaces());
  const child = spawn(process.execPath, [compiledCli(), 'lab', 'up', '--name', name, ...args], {
    env: env(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await waitFor(
    () => text,
    (t) => / is up — run /.test(t) || child.exitCode !== null,
    { timeoutMs: 60_000, pollMs: 100, description: `herald lab up --name ${name} to be up` },
  );
  assert.equal(child.exitCode, null, `lab up exited early:\n${text}`);
  const runDir = /files in (\S+)/.exec(text)?.[1] ?? '';
  const namespaces = (await listNamespaces()).filter(
    (ns) => !before.has(ns) && ns.includes(/run (\w+)/.exec(text)?.[1] ?? '?'),
  );
  return { child, output: () => text, exited, runDir, namespaces };
}

describe('herald lab CLI', { skip }, () => {
  const owners: Owner[] = [];
  /** Clients this file starts in the background, killed if a test fails before they end. */
  const helpers: { child: ChildProcess; exited: Promise<number | null> }[] = [];
  before(() => {
    lockDir = mkdtempSync(join(tmpdir(), 'herald-lab-cli-test-'));
    runBase = mkdtempSync(join(tmpdir(), 'herald-lab-cli-runs-'));
  });
  after(async () => {
    for (const helper of helpers) if (helper.child.exitCode === null) helper.child.kill('SIGKILL');
    await Promise.all(helpers.map((h) => h.exited));
    for (const owner of owners) if (owner.child.exitCode === null) owner.child.kill('SIGTERM');
    await Promise.all(owners.map((o) => o.exited));
    rmSync(lockDir, { recursive: true, force: true });
    rmSync(runBase, { recursive: true, force: true });
  });
  afterEach((t) => noteOutcome(t));

  it('runs in the foreground, refuses a second one, answers status/client/fault, and Ctrl-C removes it all', async () => {
    const name = `cli${process.pid}`;
    const owner = await labUp(name);
    owners.push(owner);
    assert.equal(owner.namespaces.length, 4, 'fabric, router, client and node namespaces');
    assert.ok(existsSync(owner.runDir));

    const second = cli(['lab', 'up', '--name', name, '--topology', 'single', '--agent', 'announce-only']);
    assert.equal(second.status, 3);
    assert.match(
      second.stderr,
      new RegExp(`a lab named "${name}" is already running \\(pid ${owner.child.pid}`),
    );

    const status = cli(['lab', 'status', '--name', name, '--json']);
    assert.equal(status.status, 0, status.stderr);
    const report = JSON.parse(status.stdout) as { snapshots: { routers: { best?: { node?: string } }[] }[] };
    assert.equal(report.snapshots[0]?.routers[0]?.best?.node, 'lon1-a');

    const client = cli(['lab', 'client', 'eu', '--name', name, '--count', '2']);
    assert.equal(client.status, 0, client.stderr);
    assert.match(client.stdout, /2\/2 answered \(lon1-a 2\)/);

    // TURN through the anycast address with coturn's own client: which PoP allocated, data relayed.
    const turn = cli(['lab', 'client', 'eu', '--name', name, '--turn', '--count', '3']);
    assert.equal(turn.status, 0, `${turn.stdout}${turn.stderr}`);
    assert.match(turn.stdout, /^allocated by lon1-a: relayed addresses 192\.0\.2\.11:\d+/m);
    assert.match(turn.stdout, /^relayed ([1-9]\d*)\/\1 messages, 0 lost$/m);
    const noIpv6 = cli(['lab', 'client', 'eu', '--name', name, '--turn', '--ipv6']);
    assert.equal(noIpv6.status, 2, 'this lab has no IPv6: a usage error');
    assert.match(noIpv6.stderr, /--ipv6: expected a lab with IPv6/);

    const fault = cli(['lab', 'fault', 'lon1-a', 'stop-proxy', '--name', name]);
    assert.equal(fault.status, 0, fault.stderr);
    // The stand-in helper has no health checks: the route stays, and nobody answers.
    const silent = cli(['lab', 'client', 'eu', '--name', name]);
    assert.equal(silent.status, 1);
    assert.match(silent.stdout, /0\/1 answered/);
    assert.equal(cli(['lab', 'fault', 'lon1-a', 'no-such-fault', '--name', name]).status, 2);

    owner.child.kill('SIGINT');
    assert.equal(await owner.exited, 0, owner.output());
    assert.match(owner.output(), /stopping the lab and removing everything/);
    const left = (await listNamespaces()).filter((ns) => owner.namespaces.includes(ns));
    assert.deepEqual(left, []);
    assert.equal(existsSync(owner.runDir), false);
    assert.equal(existsSync(join(lockDir, `${name}.json`)), false, 'lock released');
  });

  it('--demo gives the agents a TURN pre-drain: a drain waits, still announced, for a held relay session, then withdraws', async () => {
    // The cheapest lab that shows it: 3 PoPs, no IPv6, no host link (so no coordinator).
    const name = `pd${process.pid}`;
    const owner = await labUp(name, ['--demo', '--topology', 'failover', '--no-ipv6', '--no-host-link']);
    owners.push(owner);
    await waitFor(owner.output, (t) => /Ctrl-C stops the lab/.test(t), {
      timeoutMs: 10_000,
      description: 'the demo guide printed',
    });
    assert.match(owner.output(), /TURN pre-drain \(every agent; --pre-drain 60\)/);
    assert.match(owner.output(), /herald lab client eu --turn --seconds 30 .*\(lon1-a now\)/);
    assert.match(
      owner.output(),
      /herald lab drain lon1-a --reason "try" +# that node: it waits for the session/,
    );

    const report = () => {
      const status = cli(['lab', 'status', '--name', name, '--json']);
      assert.equal(status.status, 0, status.stderr);
      return JSON.parse(status.stdout) as LabRouteReport;
    };
    const euRouter = (r: LabRouteReport) => r.snapshots[0]!.routers.find((v) => v.router === 'eu')!;
    const lon1a = (r: LabRouteReport) => r.nodes.find((n) => n.name === 'lon1-a')!;
    assert.equal(euRouter(report()).best?.node, 'lon1-a');

    // One relay session held in the background, as a person would in another terminal.
    const held = spawn(
      process.execPath,
      [compiledCli(), 'lab', 'client', 'eu', '--name', name, '--turn', '--seconds', '20'],
      { env: env(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let heldText = '';
    held.stdout.on('data', (chunk: Buffer) => (heldText += chunk.toString()));
    held.stderr.on('data', (chunk: Buffer) => (heldText += chunk.toString()));
    const heldExit = new Promise<number | null>((resolve) => held.on('exit', (code) => resolve(code)));
    helpers.push({ child: held, exited: heldExit });
    await waitFor(
      () => heldText,
      (t) => /holding a relay session at/.test(t) || held.exitCode !== null,
      { timeoutMs: 20_000, pollMs: 100, description: 'the held TURN session allocated' },
    );
    assert.match(heldText, /^holding a relay session at lon1-a for about 20 s/m);

    const drain = cli(['lab', 'drain', 'lon1-a', '--name', name, '--reason', 'pre-drain test']);
    assert.equal(drain.status, 0, drain.stderr);
    assert.match(drain.stdout, /^lon1-a: \S+ \(drained by local\)/m);
    const waiting = await waitFor(
      report,
      (r) => lon1a(r).agent.preDrain?.phase === 'waiting' && (lon1a(r).agent.preDrain?.count ?? 0) >= 1,
      { timeoutMs: 10_000, pollMs: 200, description: 'lon1-a pre-draining with live sessions counted' },
    );
    // While the session lives: still announced as before, no GRACEFUL_SHUTDOWN, still eu's best.
    assert.equal(held.exitCode, null, `the session is still held:\n${heldText}`);
    const eu = euRouter(waiting.value);
    assert.equal(eu.best?.node, 'lon1-a', JSON.stringify(eu));
    const route = eu.routes.find((r) => r.node === 'lon1-a');
    assert.ok(route && !route.gracefulShutdown, JSON.stringify(eu));
    assert.ok(lon1a(waiting.value).agent.drains?.includes('local:pre-drain test'));
    const text = cli(['lab', 'status', '--name', name]);
    assert.match(text.stdout, /pre-drain: (waiting for sessions: [1-9]\d* live|steering)/);

    // The session runs to its end, whole; then the drain goes on and withdraws.
    assert.equal(await heldExit, 0, heldText);
    assert.match(heldText, /^relayed ([1-9]\d*)\/\1 messages, 0 lost$/m);
    const withdrawn = await waitFor(
      report,
      (r) => !euRouter(r).routes.some((route) => route.node === 'lon1-a'),
      { timeoutMs: 30_000, pollMs: 300, description: "lon1-a's route withdrawn once the session ended" },
    );
    assert.deepEqual(lon1a(withdrawn.value).agent.preDrain, {
      ...lon1a(withdrawn.value).agent.preDrain,
      phase: 'complete',
      reason: 'threshold',
    });
    assert.equal(euRouter(withdrawn.value).best?.node, 'ams1-a');

    // Bad values: usage errors naming the option, nothing started.
    const badPreDrain = cli(['lab', 'up', '--name', `bad${process.pid}`, '--pre-drain', 'soon']);
    assert.equal(badPreDrain.status, 2, badPreDrain.stderr);
    assert.match(
      badPreDrain.stderr,
      /--pre-drain: expected a whole number of seconds from 0 \(off\) to 3600, received "soon"/,
    );
    assert.equal(existsSync(join(lockDir, `bad${process.pid}.json`)), false);
    const badSeconds = cli(['lab', 'client', 'eu', '--name', name, '--turn', '--seconds', '-1']);
    assert.equal(badSeconds.status, 2, badSeconds.stderr);
    assert.match(
      badSeconds.stderr,
      /--seconds: expected a whole number of seconds from 1 to 3600, received "-1"/,
    );

    owner.child.kill('SIGINT');
    assert.equal(await owner.exited, 0, owner.output());
  });

  it('--coordinators 3: status lists the replicas and etcd members, host faults act on them, lab down leaves no process behind', async () => {
    const name = `reps${process.pid}`;
    const owner = await labUp(name, ['--topology', 'single', '--no-ipv6', '--coordinators', '3']);
    owners.push(owner);
    assert.match(owner.output(), /coordinator replicas \(etcd store/);
    const report = () => {
      const status = cli(['lab', 'status', '--name', name]);
      assert.equal(status.status, 0, status.stderr);
      return status.stdout;
    };
    // "up" means answering /healthz: on a loaded machine a replica may not answer in time at once.
    const allUp = async () =>
      (
        await waitFor(report, (text) => /coordinator replicas \(3\/3 up\)/.test(text), {
          timeoutMs: 30_000,
          pollMs: 500,
          description: 'lab status showing 3/3 replicas up',
        })
      ).value;
    const up = await allUp();
    assert.match(up, /etcd members \(3\/3 up; quorum\)/);
    assert.equal(cli(['lab', 'fault', 'coordinator-2', 'kill-coordinator', '--name', name]).status, 0);
    assert.equal(cli(['lab', 'fault', 'etcd-3', 'kill-etcd', '--name', name]).status, 0);
    const faulted = report();
    assert.match(faulted, /coordinator-2 +\S+ +DOWN/);
    assert.match(faulted, /coordinator replicas \(2\/3 up\)/);
    assert.match(faulted, /etcd-3 +\S+ +DOWN/);
    assert.match(faulted, /etcd members \(2\/3 up; quorum\)/);
    const wrong = cli(['lab', 'fault', 'coordinator-9', 'kill-coordinator', '--name', name]);
    assert.equal(wrong.status, 1);
    assert.match(
      wrong.stderr,
      /expected one of coordinator-1, coordinator-2, coordinator-3, received "coordinator-9"/,
    );
    assert.equal(cli(['lab', 'fault', 'coordinator-2', 'start-coordinator', '--name', name]).status, 0);
    await allUp();
    // The owner dies outright: `lab down` must still stop every replica and etcd member.
    assert.ok(hostPidsNaming(`${owner.runDir}/`).length >= 5, 'replicas and members run on the host');
    owner.child.kill('SIGKILL');
    await owner.exited;
    const down = cli(['lab', 'down', '--name', name]);
    assert.equal(down.status, 0, down.stderr);
    assert.deepEqual(hostPidsNaming(`${owner.runDir}/`), [], 'no process of the run is left');
    assert.equal(existsSync(owner.runDir), false);
  });

  it('cleans up after an owner that was killed outright (lab down)', async () => {
    const name = `dead${process.pid}`;
    const owner = await labUp(name);
    owners.push(owner);
    owner.child.kill('SIGKILL');
    await owner.exited;
    assert.ok(
      (await listNamespaces()).some((ns) => owner.namespaces.includes(ns)),
      'leftovers exist',
    );
    const down = cli(['lab', 'down', '--name', name]);
    assert.equal(down.status, 0, down.stderr);
    const left = (await listNamespaces()).filter((ns) => owner.namespaces.includes(ns));
    assert.deepEqual(left, []);
    assert.equal(existsSync(owner.runDir), false);
    assert.equal(existsSync(join(lockDir, `${name}.json`)), false);
  });

  it('`lab gc` removes what a killed owner left behind, and nothing of live labs', async () => {
    const live = await labUp(`live${process.pid}`);
    owners.push(live);
    const dead = await labUp(`gone${process.pid}`);
    owners.push(dead);
    dead.child.kill('SIGKILL');
    await dead.exited;
    const gc = cli(['lab', 'gc']);
    assert.equal(gc.status, 0, gc.stderr);
    assert.match(gc.stderr, new RegExp(`removing run \\w+ \\(owner ${dead.child.pid} is gone\\)`));
    const namespaces = await listNamespaces();
    assert.deepEqual(
      namespaces.filter((ns) => dead.namespaces.includes(ns)),
      [],
    );
    assert.equal(existsSync(dead.runDir), false);
    assert.deepEqual(
      namespaces.filter((ns) => live.namespaces.includes(ns)).sort(),
      [...live.namespaces].sort(),
      'the live lab is untouched',
    );
    live.child.kill('SIGTERM');
    assert.equal(await live.exited, 0);
  });

  it(
    'refuses clearly without root, creating nothing',
    { skip: !existsSync('/usr/bin/setpriv') ? 'no setpriv' : unreadableByNobody() },
    async () => {
      const result = cli(['lab', 'up', '--name', `nobody${process.pid}`], { user: 65534 });
      assert.equal(result.status, 3, result.stderr);
      assert.match(result.stderr, /the lab needs root to create network namespaces/);
      assert.doesNotMatch(result.stderr, /making TLS certificates|creating \d+ network namespaces/);
      assert.equal(existsSync(join(lockDir, `nobody${process.pid}.json`)), false);
    },
  );
});
