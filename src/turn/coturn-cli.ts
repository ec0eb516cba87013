/**
 * A client for coturn's telnet-style CLI (--cli-ip/--cli-port/--cli-password): runs commands
 * such as `ps` (sessions, "Total sessions: N"), `aas ip:port` / `das ip:port` (steer new
 * allocations with 300 Try Alternate, and stop). coturn reads each TCP segment as one line, so
 * every line is its own write, sent only after the prompt for it has arrived. Bounded by a
 * deadline; never throws; the password never appears in an error.
 */
import { connect } from 'node:net';
import { describeNetworkError } from '../probes/net-errors.js';

export interface CoturnCliTarget {
  host: string;
  port: number;
  /** The --cli-password; undefined when the CLI asks for none. */
  password?: string | undefined;
}

export type CliResult = { ok: true; outputs: string[] } | { ok: false; error: string };

/** The most output one command may produce before the client gives up (a `ps` of many sessions fits). */
const MAX_OUTPUT_BYTES = 4 * 1024 * 1024;
const PROMPT = /\r?\n?> $/;
const PASSWORD_PROMPT = /Enter password:\s*$/;

/** Runs `commands` one after another on one CLI session; each output is the text before the next prompt. */
export function runCoturnCli(
  target: CoturnCliTarget,
  commands: readonly string[],
  timeoutMs: number,
): Promise<CliResult> {
  return new Promise<CliResult>((resolve) => {
    const socket = connect({ host: target.host, port: target.port });
    let buffer = '';
    let stage: 'greeting' | 'password' | number = 'greeting';
    const outputs: string[] = [];
    let done = false;
    const finish = (result: CliResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (result.ok) socket.end('quit\r\n');
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () =>
        finish({
          ok: false,
          error: `coturn CLI ${target.host}:${target.port} did not answer within ${timeoutMs} ms (${describeStage(stage, commands)})`,
        }),
      timeoutMs,
    );
    const sendCommand = (index: number) => {
      stage = index;
      buffer = '';
      if (index >= commands.length) return finish({ ok: true, outputs });
      socket.write(`${commands[index]}\r\n`);
    };
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_OUTPUT_BYTES)
        return finish({
          ok: false,
          error: `coturn CLI sent more than ${MAX_OUTPUT_BYTES} bytes for one command`,
        });
      if (stage === 'greeting') {
        if (PASSWORD_PROMPT.test(buffer)) {
          if (target.password === undefined)
            return finish({ ok: false, error: 'coturn CLI asks for a password, but none is configured' });
          stage = 'password';
          buffer = '';
          socket.write(`${target.password}\r\n`);
        } else if (PROMPT.test(buffer)) sendCommand(0);
        return;
      }
      if (!PROMPT.test(buffer)) return;
      if (stage === 'password') return sendCommand(0);
      outputs.push(buffer.replace(PROMPT, '').trim());
      sendCommand(stage + 1);
    });
    socket.on('error', (error) =>
      finish({
        ok: false,
        error: `coturn CLI ${target.host}:${target.port}: ${describeNetworkError(error).detail}`,
      }),
    );
    socket.on('close', () =>
      finish({
        ok: false,
        error:
          stage === 'password'
            ? 'coturn CLI closed the connection after the password (wrong cli password?)'
            : `coturn CLI closed the connection (${describeStage(stage, commands)})`,
      }),
    );
  });
}

function describeStage(stage: 'greeting' | 'password' | number, commands: readonly string[]): string {
  if (stage === 'greeting') return 'waiting for its greeting';
  if (stage === 'password')
    return 'waiting for the prompt after the password; a wrong password gets no answer';
  return `waiting for the output of "${commands[stage] ?? ''}"`;
}

/** The session count in a `ps` output ("Total sessions: N"); undefined when it is not there. */
export function parseTotalSessions(output: string): number | undefined {
  const match = /Total sessions:\s*(\d{1,9})\b/.exec(output);
  return match ? Number(match[1]) : undefined;
}

/** Reads coturn's live session count with `ps`. */
export async function coturnSessionCount(
  target: CoturnCliTarget,
  timeoutMs: number,
): Promise<{ ok: true; count: number } | { ok: false; error: string }> {
  const result = await runCoturnCli(target, ['ps'], timeoutMs);
  if (!result.ok) return result;
  const count = parseTotalSessions(result.outputs[0] ?? '');
  if (count === undefined) return { ok: false, error: 'coturn CLI `ps` printed no "Total sessions: N" line' };
  return { ok: true, count };
}
