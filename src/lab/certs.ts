/**
 * The lab's TLS material, made with openssl: a private CA, a server certificate for the lab's
 * SIP name and addresses signed by it, and an already-expired certificate of the same kind for
 * the break-tls fault. EC P-256 keys keep this fast (well under a second).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './exec.js';

export interface LabCertificateFiles {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  expiredCert: string;
  expiredKey: string;
}

export interface LabCertificateOptions {
  /** DNS name on the certificates (CN and SAN). */
  serverName: string;
  /** IP SANs (loopback and anycast addresses). */
  ipAddresses: string[];
  /** Validity of the good server certificate, days. */
  days?: number;
}

function subjectAltName(options: LabCertificateOptions): string {
  return [`DNS:${options.serverName}`, ...options.ipAddresses.map((address) => `IP:${address}`)].join(',');
}

function caConfig(dir: string): string {
  return [
    '[ ca ]',
    'default_ca = lab_ca',
    '[ lab_ca ]',
    `database = ${join(dir, 'index.txt')}`,
    `new_certs_dir = ${join(dir, 'issued')}`,
    `serial = ${join(dir, 'serial')}`,
    'default_md = sha256',
    'policy = lab_policy',
    'copy_extensions = copy',
    'unique_subject = no',
    'x509_extensions = lab_server',
    '[ lab_policy ]',
    'commonName = supplied',
    '[ lab_server ]',
    'basicConstraints = critical,CA:FALSE',
    'keyUsage = critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage = serverAuth',
    '',
  ].join('\n');
}

async function newKeyAndRequest(key: string, csr: string, options: LabCertificateOptions): Promise<void> {
  await run('openssl', [
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    key,
    '-out',
    csr,
    '-subj',
    `/CN=${options.serverName}`,
    '-addext',
    `subjectAltName=${subjectAltName(options)}`,
  ]);
}

async function sign(
  dir: string,
  csr: string,
  out: string,
  files: { caCert: string; caKey: string },
  dates: string[],
): Promise<void> {
  await run('openssl', [
    'ca',
    '-batch',
    '-notext',
    '-config',
    join(dir, 'ca.cnf'),
    '-cert',
    files.caCert,
    '-keyfile',
    files.caKey,
    '-in',
    csr,
    '-out',
    out,
    ...dates,
  ]);
}

/** Creates CA, server and expired certificates in `dir`. */
export async function makeLabCertificates(
  dir: string,
  options: LabCertificateOptions,
): Promise<LabCertificateFiles> {
  await mkdir(join(dir, 'issued'), { recursive: true });
  await writeFile(join(dir, 'index.txt'), '');
  await writeFile(join(dir, 'serial'), '1000\n');
  await writeFile(join(dir, 'ca.cnf'), caConfig(dir));
  const files: LabCertificateFiles = {
    caCert: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca-key.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server-key.pem'),
    expiredCert: join(dir, 'expired.pem'),
    expiredKey: join(dir, 'expired-key.pem'),
  };
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    files.caKey,
    '-out',
    files.caCert,
    '-days',
    '3650',
    '-subj',
    '/CN=herald lab CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  const serverCsr = join(dir, 'server.csr');
  const expiredCsr = join(dir, 'expired.csr');
  await Promise.all([
    newKeyAndRequest(files.serverKey, serverCsr, options),
    newKeyAndRequest(files.expiredKey, expiredCsr, options),
  ]);
  // openssl ca updates index.txt and serial: sign one at a time.
  await sign(dir, serverCsr, files.serverCert, files, ['-days', String(options.days ?? 30)]);
  await sign(dir, expiredCsr, files.expiredCert, files, [
    '-startdate',
    '20200101000000Z',
    '-enddate',
    '20200102000000Z',
  ]);
  return files;
}
