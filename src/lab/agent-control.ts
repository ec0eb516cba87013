/**
 * Talks to a lab node's agent over its local control API (GET /status, GET /metrics, POST /drain,
 * POST /undrain). The API listens on the node's management address; with a host link the host
 * reaches it directly, otherwise the request is made from inside the node's namespace.
 */
import { execFile } from 'node:child_process';
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
  /** Whether the host can reach the node's fabric address directly. */
  hostLink: boolean;
}

export function controlUrl(node: NodePlan, path: string): string {
  return `http://${node.managementIpv4}:${CONTROL_PORT}${path}`;
}

/** One HTTP request to a node's agent; status 0 means no answer (connection refused, timeout). */
export async function agentRequest(
  node: NodePlan,
  method: 'GET' | 'POST',
  path: string,
  body: unknown,
  options: AgentControlOptions,
): Promise<ControlResponse> {
  const url = controlUrl(node, path);
  const text = body === undefined ? '' : JSON.stringify(body);
  if (options.hostLink) {
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

/** The agent's status document, validated; throws naming the node when it cannot be had. */
export async function agentStatus(node: NodePlan, options: AgentControlOptions): Promise<AgentStatus> {
  const response = await agentRequest(node, 'GET', '/status', undefined, options);
  if (response.status !== 200)
    throw new Error(
      `agent on ${node.name}: expected 200 from GET /status, received ${response.status || 'no answer'}: ${response.body.slice(0, 200)}`,
    );
  return agentStatusSchema.parse(JSON.parse(response.body));
}
