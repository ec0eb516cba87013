/**
 * IPv4 and IPv6 address checks without Node APIs, so the wire schemas run unchanged in the
 * dashboard's browser bundle. They answer as node:net's isIPv4/isIPv6 do (a property test in
 * test/unit/wire/ip-address.test.ts holds them to it), zone ids ("fe80::1%eth0") included.
 */

/** Dotted quad, no leading zeros: what node:net's isIPv4 accepts. */
export function isIPv4(text: string): boolean {
  const parts = text.split('.');
  return parts.length === 4 && parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
}

/** An IPv6 address (embedded IPv4 and a zone id allowed): what node:net's isIPv6 accepts. */
export function isIPv6(text: string): boolean {
  const zoneAt = text.indexOf('%');
  if (zoneAt >= 0 && !/^[0-9a-zA-Z.:-]+$/.test(text.slice(zoneAt + 1))) return false;
  const address = zoneAt >= 0 ? text.slice(0, zoneAt) : text;
  if (!/^[0-9a-fA-F:.]+$/.test(address) || !address.includes(':')) return false;
  // The WHATWG URL parser implements the IPv6 grammar exactly; it exists in Node and browsers.
  try {
    return new URL(`http://[${address}]/`).hostname.length > 2;
  } catch {
    return false;
  }
}
