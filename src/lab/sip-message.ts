/**
 * The lab client's SIP: builds an OPTIONS request and parses a reply's status line and headers
 * (case-insensitive, compact forms). Pure; the lab's proxies name their node in the Server header.
 */
import { randomBytes } from 'node:crypto';

export interface OptionsRequest {
  /** Address the request is sent to (the anycast address). */
  target: string;
  port: number;
  transport: 'UDP' | 'TCP' | 'TLS';
  localAddress: string;
  localPort: number;
  callId: string;
  branch: string;
  tag: string;
  cseq: number;
}

function hostPart(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

export function newRequestIds(): { callId: string; branch: string; tag: string } {
  return {
    callId: `${randomBytes(9).toString('hex')}@herald-lab`,
    branch: `z9hG4bK${randomBytes(8).toString('hex')}`,
    tag: randomBytes(5).toString('hex'),
  };
}

export function buildOptionsRequest(request: OptionsRequest): string {
  const target = `${hostPart(request.target)}:${request.port}`;
  const local = `${hostPart(request.localAddress)}:${request.localPort}`;
  const uriParams = request.transport === 'UDP' ? '' : `;transport=${request.transport.toLowerCase()}`;
  return [
    `OPTIONS sip:${target}${uriParams} SIP/2.0`,
    `Via: SIP/2.0/${request.transport} ${local};rport;branch=${request.branch}`,
    'Max-Forwards: 70',
    `From: <sip:lab-client@${hostPart(request.localAddress)}>;tag=${request.tag}`,
    `To: <sip:${target}>`,
    `Call-ID: ${request.callId}`,
    `CSeq: ${request.cseq} OPTIONS`,
    `Contact: <sip:lab-client@${local}>`,
    'Accept: application/sdp',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

export interface SipResponse {
  code: number;
  reason: string;
  /** Header values by lower-case long name; repeated headers keep the first value. */
  headers: Record<string, string>;
}

const COMPACT: Record<string, string> = {
  i: 'call-id',
  v: 'via',
  f: 'from',
  t: 'to',
  l: 'content-length',
  m: 'contact',
  c: 'content-type',
};

/** Parses a SIP response; undefined when the text is not one. */
export function parseSipResponse(text: string): SipResponse | undefined {
  const headerEnd = text.indexOf('\r\n\r\n');
  const head = headerEnd >= 0 ? text.slice(0, headerEnd) : text;
  const lines = head.split(/\r?\n/);
  const status = /^SIP\/2\.0\s+(\d{3})\s*(.*)$/.exec(lines[0] ?? '');
  if (!status) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const rawName = line.slice(0, colon).trim().toLowerCase();
    const name = COMPACT[rawName] ?? rawName;
    headers[name] ??= line.slice(colon + 1).trim();
  }
  return { code: Number(status[1]), reason: status[2] ?? '', headers };
}
