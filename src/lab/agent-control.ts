/**
 * Talks to a lab node's agent over its local control API (GET /status, GET /metrics, POST /drain,
 * POST /undrain). The API listens on the node's management address, which the lab's control relay
 * (a Unix socket in the run directory) reaches from any namespace.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { agentStatusSchema, type AgentStatus } from '../wire/agent-status.js';
import { CONTROL_PORT, type NodePlan } from './plan.js';

export interface ControlResponse {
  status: number;
  body: string;
}

const IN_NAMESPACE_FETCH = `
const [url, method, body] = process.argv.slice(1);
try {
  const response = await fetch(url, {
    method,
    ...(body ? { body, headers: { 'content-type': 'application/json' } } : {}),
    signal: AbortSignal.timeout(5000),
  });
  process.stdout.write(JSON.stringify({ status: response.status, body: await response.text() }));
} catch (error) {
  process.stdout.write(JSON.stringify({ status: 0, body: String(error && error.cause ? error.cause.message ?? error.cause : error) }));
}
`;

export interface AgentControlOptions {
  /** The lab's control relay socket (fast path, works from any namespace). */
  relaySocket?: string;
  /** Whether the host can reach the node's management address directly. */
  hostLink?: boolean;
}

export function controlUrl(node: NodePlan, path: string): string {
  return `http://${node.managementIpv4}:${CONTROL_PORT}${path}`;
}

function viaRelay(socketPath: string, node: NodePlan, method: string, path: string, text: string) {
  return new Promise<ControlResponse>((resolve) => {
    const request = httpRequest(
      {
        socketPath,
        method,
        path,
        headers: {
          'x-herald-target': `${node.managementIpv4}:${CONTROL_PORT}`,
          ...(text ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } : {}),
        },
        timeout: 10_000,
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => {
          // The relay answers 502 when the agent itself did not answer.
          if (response.statusCode === 502) resolve({ status: 0, body });
          else resolve({ status: response.statusCode ?? 0, body });
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error('no answer from the control relay in 10 s')));
    request.on('error', (error) => resolve({ status: 0, body: `control relay: ${error.message}` }));
    request.end(text);
  });
}

async function direct(url: string, method: string, text: string): Promise<ControlResponse> {
  try {
    const response = await fetch(url, {
      method,
      ...(text ? { body: text, headers: { 'content-type': 'application/json' } } : {}),
      signal: AbortSignal.timeout(5000),
    });
    return { status: response.status, body: await response.text() };
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause;
    return { status: 0, body: cause?.message ?? String(error) };
  }
}

function inNamespace(node: NodePlan, url: string, method: string, text: string): Promise<ControlResponse> {
  return new Promise((resolve) => {
    execFile(
      'ip',
      [
        'netns',
        'exec',
        node.netns,
        process.execPath,
        '--input-type=module',
        '-e',
        IN_NAMESPACE_FETCH,
        url,
        method,
        text,
      ],
      { timeout: 10_000 },
      (error, stdout) => {
        try {
          resolve(JSON.parse(stdout) as ControlResponse);
        } catch {
          resolve({ status: 0, body: error?.message ?? `unexpected output: ${stdout}` });
        }
      },
    );
  });
}

/**
 * One HTTP request to a node's agent; status 0 means no answer (connection refused, timeout).
 * Goes through the control relay when there is one, else directly over a host link, else from
 * a process started inside the node's namespace (slow: a Node start per request).
 */
export async function agentRequest(
  node: NodePlan,
  method: 'GET' | 'POST',
  path: string,
  body: unknown,
  options: AgentControlOptions,
): Promise<ControlResponse> {
  const text = body === undefined ? '' : JSON.stringify(body);
  if (options.relaySocket && existsSync(options.relaySocket))
    return viaRelay(options.relaySocket, node, method, path, text);
  const url = controlUrl(node, path);
  if (options.hostLink) return direct(url, method, text);
  return inNamespace(node, url, method, text);
}

/** The agent's status document, validated; throws naming the node when it cannot be had. */
export async function agentStatus(node: NodePlan, options: AgentControlOptions): Promise<AgentStatus> {
  const response = await agentRequest(node, 'GET', '/status', undefined, options);
  if (response.status !== 200)
    throw new Error(
      `agent on ${node.name}: expected 200 from GET /status, received ${response.status || 'no answer'}: ${response.body.slice(0, 200)}`,
    );
  return agentStatusSchema.parse(JSON.parse(response.body));
}
