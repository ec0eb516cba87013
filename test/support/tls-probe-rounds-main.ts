/**
 * Runs inside a lab node's namespace (ip netns exec): herald's own `tls` and `sip-tls` probes
 * against the node's Kamailio on 127.0.0.1:5061, one round of each per stdin line, each result
 * printed as one JSON line {tls, sipTls}. The probes live for the whole run, as in an agent, so
 * their TLS sessions are resumed across rounds. Args: the CA file.
 */
import { createInterface } from 'node:readline';
import { checkSchema } from '../../src/config/agent-schema.js';
import { LAB_SERVER_NAME } from '../../src/lab/plan.js';
import { createProbe } from '../../src/probes/index.js';

const caFile = process.argv[2];
if (!caFile) throw new Error('usage: tls-probe-rounds-main.ts <caFile>');
const common = {
  host: '127.0.0.1',
  port: 5061,
  serverName: LAB_SERVER_NAME,
  caFile,
  timeout: 2000,
  fullHandshakeEvery: '1m',
};
const tls = createProbe(checkSchema.parse({ name: 'tls', type: 'tls', ...common }));
const sipTls = createProbe(
  checkSchema.parse({ name: 'sip-tls', type: 'sip-options', transport: 'tls', ...common }),
);

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const [tlsResult, sipTlsResult] = await Promise.all([tls(), sipTls()]);
  process.stdout.write(`${JSON.stringify({ tls: tlsResult, sipTls: sipTlsResult })}\n`);
}
