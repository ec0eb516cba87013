/**
 * Reads the files the agent's coordinator section names (tokenFile, caFile, certFile, keyFile)
 * once, at start-up, before anything is announced or withdrawn. A missing, unreadable or
 * unusable file is a ConfigError naming the field and the path, so the agent exits 2 as for any
 * other configuration problem instead of running without the credentials it was given.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { CoordinatorLinkConfig } from '../config/agent-schema.js';
import { ConfigError } from '../config/load.js';
import { coerceError } from '../util/errors.js';

export interface CoordinatorCredentials {
  token: string;
  /** TLS material for the link; each absent when not configured. */
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer };
}

type FileField = 'tokenFile' | 'caFile' | 'certFile' | 'keyFile';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function readReason(error: unknown): string {
  const err = coerceError(error) as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return 'no such file';
  if (err.code === 'EACCES') return 'permission denied';
  if (err.code === 'EISDIR') return 'a directory';
  return err.code ?? err.message;
}

/** The first certificate of a PEM text, or why it holds no usable one (none, or one that does not parse). */
function certificateProblem(pem: string): { problem: string } | { first: X509Certificate } {
  const blocks = pem.match(PEM_CERTIFICATE);
  if (!blocks) return { problem: 'no PEM certificate' };
  let first: X509Certificate | undefined;
  for (const [index, block] of blocks.entries()) {
    try {
      const parsed = new X509Certificate(block);
      first ??= parsed;
    } catch (error) {
      return { problem: `certificate ${index + 1} does not parse (${coerceError(error).message})` };
    }
  }
  return { first: first! };
}

/**
 * Reads and checks the coordinator section's files. `source` names the config file in the
 * error; `readFile` is for tests.
 */
export function readCoordinatorCredentials(
  link: CoordinatorLinkConfig,
  source: string,
  readFile: (path: string) => Buffer = (path) => readFileSync(path),
): CoordinatorCredentials {
  const problems: string[] = [];
  const problem = (field: FileField, message: string) => problems.push(`coordinator.${field}: ${message}`);
  const read = (field: FileField): Buffer | undefined => {
    const path = link[field];
    if (path === undefined) return undefined;
    try {
      return readFile(path);
    } catch (error) {
      problem(field, `expected a readable file, received ${JSON.stringify(path)} (${readReason(error)})`);
      return undefined;
    }
  };

  let token = link.token;
  const tokenText = read('tokenFile');
  if (tokenText !== undefined) {
    token = tokenText.toString('utf8').trim();
    if (!token)
      problem('tokenFile', `expected a file holding the token, received an empty file ${link.tokenFile}`);
  }

  const ca = read('caFile');
  if (ca !== undefined) {
    const check = certificateProblem(ca.toString('utf8'));
    if ('problem' in check)
      problem('caFile', `expected PEM CA certificates in ${link.caFile}, received ${check.problem}`);
  }

  const cert = read('certFile');
  let leaf: X509Certificate | undefined;
  if (cert !== undefined) {
    const check = certificateProblem(cert.toString('utf8'));
    if ('problem' in check)
      problem('certFile', `expected a PEM client certificate in ${link.certFile}, received ${check.problem}`);
    else leaf = check.first;
  }

  const key = read('keyFile');
  let privateKey: KeyObject | undefined;
  if (key !== undefined) {
    const text = key.toString('utf8');
    const expected = `expected an unencrypted PEM private key in ${link.keyFile}, received`;
    if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: *4,ENCRYPTED/.test(text))
      problem('keyFile', `${expected} an encrypted key (the agent takes no passphrase)`);
    else if (!/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text))
      problem('keyFile', `${expected} no PEM private key`);
    else
      try {
        privateKey = createPrivateKey(key);
      } catch (error) {
        problem('keyFile', `${expected} a key that does not parse (${coerceError(error).message})`);
      }
  }
  if (leaf && privateKey && !leaf.checkPrivateKey(privateKey))
    problem(
      'keyFile',
      `expected the private key of the certificate in certFile (${link.certFile}), received another key in ${link.keyFile}`,
    );

  if (problems.length) throw new ConfigError(source, problems);
  return {
    token: token!,
    tls: {
      ...(ca !== undefined ? { ca } : {}),
      ...(cert !== undefined ? { cert } : {}),
      ...(key !== undefined ? { key } : {}),
    },
  };
}
