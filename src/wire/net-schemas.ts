/**
 * Zod schemas for the network values that end up in ExaBGP commands: prefixes, addresses,
 * communities, AS numbers. The ExaBGP bridge validates again before writing (defence in depth),
 * but a config file is refused here first, with the field's path.
 */
import { isIPv4, isIPv6 } from './ip-address.js';
import { z } from 'zod';

export const MAX_ASN = 4_294_967_295;

/** "198.51.100.10/32" or "2001:db8::10/128": an address and a prefix length that fits its family. */
export function isPrefix(text: string): boolean {
  const slash = text.indexOf('/');
  if (slash < 0) return false;
  const address = text.slice(0, slash);
  const lengthText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lengthText)) return false;
  const length = Number(lengthText);
  if (isIPv4(address)) return length <= 32;
  if (isIPv6(address)) return length <= 128;
  return false;
}

export function prefixFamily(prefix: string): 'ipv4' | 'ipv6' {
  return prefix.includes(':') ? 'ipv6' : 'ipv4';
}

export function isCommunity(text: string): boolean {
  const match = /^(\d{1,5}):(\d{1,5})$/.exec(text);
  return !!match && Number(match[1]) <= 65535 && Number(match[2]) <= 65535;
}

export function isLargeCommunity(text: string): boolean {
  const match = /^(\d{1,10}):(\d{1,10}):(\d{1,10})$/.exec(text);
  return !!match && [match[1], match[2], match[3]].every((part) => Number(part) <= MAX_ASN);
}

export const prefixSchema = z
  .string()
  .refine(isPrefix, { message: 'expected an IPv4 or IPv6 prefix such as "198.51.100.10/32"' });
export const ipv4Schema = z.string().refine((v) => isIPv4(v), { message: 'expected an IPv4 address' });
export const ipv6Schema = z.string().refine((v) => isIPv6(v), { message: 'expected an IPv6 address' });
export const ipSchema = z
  .string()
  .refine((v) => isIPv4(v) || isIPv6(v), { message: 'expected an IPv4 or IPv6 address' });
export const communitySchema = z
  .string()
  .refine(isCommunity, { message: 'expected a community "ASN:VALUE" with both parts 0-65535' });
export const largeCommunitySchema = z.string().refine(isLargeCommunity, {
  message: 'expected a large community "GLOBAL:LOCAL1:LOCAL2" with each part 0-4294967295',
});
export const asnSchema = z.number().int().min(1).max(MAX_ASN);
export const portSchema = z.number().int().min(1).max(65535);
/** A DNS name or an IP literal. */
export const hostSchema = z
  .string()
  .min(1)
  .max(253)
  .refine(
    (v) =>
      isIPv4(v) ||
      isIPv6(v) ||
      /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(v),
    {
      message: 'expected a host name or an IP address',
    },
  );
/** Names that end up in logs, metrics labels and URLs: lower-case letters, digits, '-', '_' and '.'. */
export const nameSchema = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, {
  message: 'expected a name of lower-case letters, digits, ".", "_" or "-" (at most 63)',
});
