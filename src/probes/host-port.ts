/** "host:port" the way SIP URIs, Via headers and status lines write it: IPv6 literals in brackets. */
import { isIPv6 } from 'node:net';

export function formatHost(host: string): string {
  return isIPv6(host) ? `[${host}]` : host;
}

export function formatHostPort(host: string, port: number): string {
  return `${formatHost(host)}:${port}`;
}
