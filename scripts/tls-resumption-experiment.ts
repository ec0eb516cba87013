/**
 * The experiment behind the decision on TLS session resumption for the tls and sip-tls checks (docs/tls-checks.md): does a real Kamailio
 * decline a session ticket it issued before `tls.reload` (the lab's break-tls / fix-tls) or a
 * restart? Starts a one-node lab (no agent needed), handshakes from inside the node's namespace,
 * prints what happened at each step. Run: node --import tsx scripts/tls-resumption-experiment.ts
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startLab } from '../src/lab/lab.js';
import { singleNodeTopology } from '../src/lab/topology.js';

const lab = await startLab({ topology: singleNodeTopology(), waitUntilAnnounced: false });
const node = lab.plan.nodes[0]!;
const helper = fileURLToPath(new URL('../test/support/tls-handshake-main.ts', import.meta.url));
const child = spawn(
  'ip',
  ['netns', 'exec', node.netns, process.execPath, '--import', 'tsx', helper, '5061'],
  {
    stdio: ['pipe', 'pipe', 'inherit'],
  },
);
const replies = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
async function handshake(
  session?: string,
): Promise<{ reused?: boolean; notAfter?: string; session?: string; error?: string }> {
  child.stdin.write(`${JSON.stringify(session ? { session } : {})}\n`);
  const next = await replies.next();
  return JSON.parse(next.value as string);
}
const show = (step: string, r: { reused?: boolean; notAfter?: string; error?: string; session?: string }) =>
  console.log(
    `${step.padEnd(48)} reused=${r.reused} notAfter=${r.notAfter} error=${r.error ?? '-'} ticket=${r.session ? 'yes' : 'no'}`,
  );
try {
  let r = await handshake();
  show('1 full handshake (good cert)', r);
  const before = r.session!;
  r = await handshake(before);
  show('2 resume with that ticket (nothing changed)', r);
  await lab.fault(node.name, 'break-tls');
  r = await handshake(before);
  show('3 after break-tls: resume old ticket', r);
  const brokenTicket = r.session;
  r = await handshake(brokenTicket);
  show('4 after break-tls: resume the new ticket', r);
  await lab.fault(node.name, 'fix-tls');
  r = await handshake(brokenTicket);
  show('5 after fix-tls: resume the break-tls ticket', r);
  r = await handshake(before);
  show('6 after fix-tls: resume the very first ticket', r);
  const fixed = (await handshake()).session!;
  r = await handshake(fixed);
  show('7 after fix-tls: fresh ticket resumes', r);
  // tls.reload with unchanged files
  const { reloadKamailioTls } = await import('../src/lab/daemons.js');
  await reloadKamailioTls(lab.context, node);
  r = await handshake(fixed);
  show('8 tls.reload, same files: resume', r);
  const fixed2 = (await handshake()).session!;
  await lab.fault(node.name, 'stop-proxy');
  await lab.fault(node.name, 'start-proxy');
  for (let i = 0; i < 50; i += 1) {
    r = await handshake(fixed2);
    if (!r.error) break;
  }
  show('9 after Kamailio restart: resume', r);
} finally {
  child.kill();
  await lab.release();
}
