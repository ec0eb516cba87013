/**
 * Client certificates (extendedKeyUsage clientAuth) for the agent ↔ coordinator mTLS tests, made
 * with the `openssl` CLI inside a TestPki's directory, as the coordinator's own client-certificate
 * test does. The certificate names `name` as its subject CN and DNS subjectAltName (the
 * coordinator matches an agent's certificate against its node name).
 *
 *   const pki = await TestPki.create();
 *   const agentsCa = await pki.createCa('agents-ca');
 *   const lon1 = await issueClientCert(pki, agentsCa, 'lon1-a');   // { cert, key } file paths
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { CertFiles, TestPki } from './certs.js';

const run = promisify(execFile);

/** A client certificate for `name` signed by `issuer`; `label` tells apart two made for one name. */
export async function issueClientCert(
  pki: TestPki,
  issuer: CertFiles,
  name: string,
  label = name,
): Promise<CertFiles> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(label))
    throw new Error(`expected a label of letters, digits, ".", "_" or "-", received "${label}"`);
  const base = join(pki.dir, `client-${label}`);
  const files = { key: `${base}.key`, csr: `${base}.csr`, cert: `${base}.pem`, ext: `${base}.ext` };
  await writeFile(
    files.ext,
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectAltName=DNS:${name}\n`,
  );
  await run('openssl', [
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    files.key,
    '-out',
    files.csr,
    '-subj',
    `/CN=${name}`,
  ]);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    files.csr,
    '-CA',
    issuer.cert,
    '-CAkey',
    issuer.key,
    '-CAcreateserial',
    '-out',
    files.cert,
    '-days',
    '2',
    '-extfile',
    files.ext,
  ]);
  return { cert: files.cert, key: files.key };
}
