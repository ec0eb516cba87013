/**
 * Reads the PEM files a check names (caFile, expectedCertFile) once, when the probe is made.
 * A missing or unreadable file is returned as a reason that names the field and the path, for
 * every probe result to report; it never throws.
 */
import { X509Certificate } from 'node:crypto';
import { coerceError } from '../util/errors.js';
import { readConfigFile } from './config-file.js';

export type LoadedPem = { ok: true; pem: string; fingerprint256: string } | { ok: false; detail: string };

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

/** Reads a PEM file and checks that its first certificate parses. `field` names the config field. */
export function loadPemCertificate(path: string, field: string): LoadedPem {
  const read = readConfigFile(path, field);
  if (!read.ok) return read;
  const text = read.text;
  const first = PEM_CERTIFICATE.exec(text)?.[0];
  if (!first) return { ok: false, detail: `${field} ${path}: expected a PEM certificate, found none` };
  try {
    return { ok: true, pem: text, fingerprint256: new X509Certificate(first).fingerprint256 };
  } catch (error) {
    return {
      ok: false,
      detail: `${field} ${path}: cannot parse the certificate: ${coerceError(error).message}`,
    };
  }
}
