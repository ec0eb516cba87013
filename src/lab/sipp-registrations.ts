/**
 * Persistent SIP registrations through the anycast address, made by a real third-party client:
 * SIPp, one process per client, each keeping ONE TCP connection to the anycast address and
 * re-registering on it every `intervalMs` (a REGISTER loop). The lab's Kamailio answers 200 and
 * names its node in the Server header, so every reply tells which PoP holds the connection.
 *
 * When the anycast route moves, the connection's next segment reaches a PoP that has no state
 * for it and is answered with a reset: SIPp ends with "Connection reset by peer". The handle then
 * starts the client again at once, as a phone re-registers after losing its connection; the new
 * connection lands at whichever PoP the route now points to. (Debian's SIPp 3.6.1 is built
 * without OpenSSL, so no TLS transport; its own reconnect options fail in this build with
 * "Unable to get a SCTP socket". SIP over TLS is measured with herald's own client,
 * sip-tls-registrations.ts.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabContext } from './context.js';
import { nodeFromServerHeader } from './kamailio-config.js';
import { findClient, SIP_PORT } from './plan.js';
import type { RegistrationReply, RegistrationSession } from './registration-gaps.js';

export { reregistrations, type Reregistration } from './registration-gaps.js';

/** A REGISTER loop on one connection: send, expect 200, pause, again. */
export function registerScenario(intervalMs: number): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="herald lab: re-register every ${intervalMs} ms on one persistent connection">
  <label id="1"/>
  <send>
    <![CDATA[

      REGISTER sip:[remote_ip] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[service]@lab.test>;tag=[call_number]
      To: <sip:[service]@lab.test>
      Call-ID: [call_id]
      CSeq: [cseq] REGISTER
      Contact: <sip:[service]@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Expires: 60
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" timeout="2000" ontimeout="1"/>
  <pause milliseconds="${intervalMs}" next="1"/>
</scenario>
`;
}

export type SippReply = RegistrationReply;

/** The 200 replies in a SIPp -trace_msg log, with their time and the answering node. Pure. */
export function parseSippMessages(text: string): SippReply[] {
  const replies: SippReply[] = [];
  const blocks = text.split(/^-{10,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\s*$/m);
  for (let i = 1; i + 1 < blocks.length; i += 2) {
    const body = blocks[i + 1]!;
    if (!/message received/.test(body) || !/^SIP\/2\.0 200 /m.test(body)) continue;
    // SIPp writes local time with microseconds; Date parses an ISO time without a zone as local.
    const at = new Date(blocks[i]!.replace(' ', 'T').slice(0, 23)).getTime();
    const server = /^Server:\s*(.+)$/m.exec(body)?.[1];
    replies.push({ at, node: nodeFromServerHeader(server) });
  }
  return replies;
}

/** The errors SIPp logged (-trace_err), each with its unix ms time. Pure. */
export function parseSippErrors(text: string): { at: number; text: string }[] {
  return [...text.matchAll(/\d{4}-\d\d-\d\d\t\S+\t(\d+\.\d+): (.*?)(?=\d{4}-\d\d-\d\d\t|$)/gs)].map((m) => ({
    at: Math.round(Number(m[1]) * 1000),
    text: m[2]!.trim(),
  }));
}

/** One SIPp run: one TCP connection, from start to its end. */
export interface SippSession extends RegistrationSession {
  exitCode: number | undefined;
  /** SIPp's message and error logs of this run. */
  logs: { messages: string; errors: string };
}

export interface RegistrationsHandle {
  /** Resolves once every client has had a 200 on its first connection. */
  registered: Promise<void>;
  sessions(): SippSession[];
  /** The node each client's newest 200 came from. */
  current(): (string | undefined)[];
  stop(): Promise<SippSession[]>;
}

export interface RegistrationsOptions {
  clients: number;
  /** Between REGISTERs on a connection (default 300 ms). */
  intervalMs?: number;
  /** Where the scenario and the logs go. */
  dir: string;
}

/** Starts `clients` persistent registrations from the region's client to the anycast address. */
export function startRegistrations(
  context: LabContext,
  region: string,
  options: RegistrationsOptions,
): RegistrationsHandle {
  const client = findClient(context.plan, region);
  const scenario = join(options.dir, 'sipp-register.xml');
  writeFileSync(scenario, registerScenario(options.intervalMs ?? 300));
  const all: SippSession[] = [];
  const running = new Map<number, { child: ChildProcess; exited: Promise<void> }>();
  let stopping = false;
  let runs = 0;

  function files(index: number, run: number) {
    const base = join(options.dir, `sipp-${index}-${run}`);
    return { messages: `${base}.msg.log`, errors: `${base}.err.log` };
  }

  function read(file: string): string {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return '';
    }
  }

  function launch(index: number): void {
    const run = ++runs;
    const logs = files(index, run);
    const session: SippSession = {
      client: index,
      startedAt: Date.now(),
      endedAt: undefined,
      exitCode: undefined,
      replies: [],
      errors: [],
      reset: false,
      logs,
    };
    all.push(session);
    // prettier-ignore
    const args = ['netns', 'exec', client.netns, 'sipp', '-sf', scenario, '-t', 't1', '-m', '1', '-l', '1',
      '-s', `lab-user-${index}`, '-i', client.ipv4, '-nostdin', '-nd', '-max_socket', '64',
      '-trace_msg', '-message_file', logs.messages, '-trace_err', '-error_file', logs.errors,
      `${context.plan.anycast.ipv4}:${SIP_PORT}`];
    const child = spawn('ip', args, { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => {
      const finish = (code: number | null) => {
        session.endedAt = Date.now();
        session.exitCode = code ?? undefined;
        session.replies = parseSippMessages(read(logs.messages));
        session.errors = parseSippErrors(read(logs.errors));
        session.reset =
          !stopping &&
          session.errors.some((e) => /reset by peer|closed the socket|Broken pipe/i.test(e.text));
        running.delete(index);
        resolve();
        // The client re-registers at once on a new connection, as a phone does.
        if (!stopping) launch(index);
      };
      child.on('error', () => finish(null));
      child.on('close', finish);
    });
    running.set(index, { child, exited });
  }

  function refresh(): void {
    for (const session of all)
      if (session.endedAt === undefined) session.replies = parseSippMessages(read(session.logs.messages));
  }

  for (let index = 0; index < options.clients; index++) launch(index);

  const registered = new Promise<void>((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      refresh();
      // Each client registered once, on any of its connections: one reset before its first answer
      // (seen once in a fresh-clone run, right after the lab came up) is re-launched like any other.
      const registeredClients = new Set(all.filter((s) => s.replies.length > 0).map((s) => s.client));
      if (registeredClients.size === options.clients) {
        clearInterval(poll);
        resolve();
      } else if (Date.now() - started > 15_000) {
        clearInterval(poll);
        reject(new Error(`SIPp: expected every client to register within 15 s, but some did not`));
      }
    }, 50);
  });

  return {
    registered,
    sessions() {
      refresh();
      return [...all];
    },
    current() {
      refresh();
      return Array.from({ length: options.clients }, (_, i) => {
        const replies = all.filter((s) => s.client === i).flatMap((s) => s.replies);
        return replies.at(-1)?.node;
      });
    },
    async stop() {
      stopping = true;
      const live = [...running.values()];
      for (const { child } of live) child.kill('SIGKILL');
      await Promise.all(live.map((r) => r.exited));
      return [...all];
    },
  };
}
