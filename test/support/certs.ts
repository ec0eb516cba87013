/**
 * Test certificates made with the `openssl` CLI in a temporary directory: a root CA, more CAs
 * (other roots or intermediates), and leaf certificates with chosen names and validity dates,
 * including already expired and not yet valid ones (`openssl ca -startdate/-enddate`, so no
 * faked clock is needed). Keys are EC P-256: quick to make and accepted by Node and Kamailio.
 *
 *   const certs = await makeTestCerts();            // the usual set, see TestCerts
 *   const pki = await TestPki.create();             // or build exactly what a test needs
 *   const leaf = await pki.issueLeaf('sip', { dns: ['sip.lab.test'], ips: ['127.0.0.1'] });
 *   await pki.cleanup();
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const DAY_MS = 86_400_000;

export interface CertFiles {
  /** PEM file of the certificate alone. */
  cert: string;
  /** PEM file of its unencrypted private key. */
  key: string;
}

export interface CaCert extends CertFiles {
  name: string;
  /** Intermediate CA certificates between this CA and its root, nearest first (PEM text); empty for a root. */
  readonly intermediates: readonly string[];
  readonly isRoot: boolean;
}

export interface LeafCert extends CertFiles {
  name: string;
  /** PEM file of the leaf followed by every intermediate up to (not including) the root: what a server serves. */
  chain: string;
  notBefore: Date;
  notAfter: Date;
}

export interface CaOptions {
  /** Signing CA; absent = a new self-signed root. */
  issuer?: CaCert;
  notBefore?: Date;
  notAfter?: Date;
}

export interface LeafOptions {
  commonName?: string;
  /** DNS names for subjectAltName. Default: ["sip.lab.test", "localhost"]. */
  dns?: string[];
  /** IP addresses for subjectAltName. Default: ["127.0.0.1", "::1"]. */
  ips?: string[];
  /** Signing CA; default the PKI's root CA. */
  issuer?: CaCert;
  /** Default: one hour ago (tolerates small clock differences). */
  notBefore?: Date;
  /** Default: 365 days from now. */
  notAfter?: Date;
}

/** A date `days` days from now (negative = in the past). */
export function daysFromNow(days: number): Date {
  return new Date(Date.now() + days * DAY_MS);
}

/** Whether the `openssl` command can be run on this machine. */
export function hasOpenssl(): boolean {
  return spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;
}

/**
 * For `describe(name, { skip: opensslSkip() }, ...)`: false when openssl is here; otherwise the
 * skip reason, or, under HERALD_REQUIRE_LAB=1 (CI), an error that fails the test file instead.
 */
export function opensslSkip(): string | false {
  if (hasOpenssl()) return false;
  const reason = 'openssl not installed (it makes the test certificates)';
  if (process.env.HERALD_REQUIRE_LAB === '1') throw new Error(`${reason}; HERALD_REQUIRE_LAB=1 needs it`);
  return reason;
}

function opensslTime(date: Date): string {
  // YYYYMMDDHHMMSSZ, the form `openssl ca -startdate/-enddate` accepts for any year.
  return date
    .toISOString()
    .replace(/[-:T]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

function assertFileName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name))
    throw new Error(`expected a certificate name of letters, digits, ".", "_" or "-", received "${name}"`);
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A small private PKI in its own temporary directory. */
export class TestPki {
  private constructor(
    readonly dir: string,
    readonly ca: CaCert,
  ) {}

  /**
   * Makes a directory (a new one under the system temp dir unless `dir` is given; created if
   * missing) and a root CA named "herald-test-ca". `cleanup()` removes the directory.
   */
  static async create(dir?: string): Promise<TestPki> {
    const root = dir ?? (await mkdtemp(join(tmpdir(), `herald-certs-${process.pid}-`)));
    await mkdir(root, { recursive: true });
    await writeFile(
      join(root, 'ca.cnf'),
      [
        '[ ca ]',
        'default_ca = herald_ca',
        '[ herald_ca ]',
        `database = ${join(root, 'index.txt')}`,
        `new_certs_dir = ${root}`,
        'default_md = sha256',
        'policy = herald_policy',
        'unique_subject = no',
        'rand_serial = yes',
        'email_in_dn = no',
        '[ herald_policy ]',
        'commonName = supplied',
        '',
      ].join('\n'),
    );
    await writeFile(join(root, 'index.txt'), '');
    const pki = new TestPki(root, undefined as unknown as CaCert);
    (pki as { ca: CaCert }).ca = await pki.createCa('herald-test-ca');
    return pki;
  }

  /** A new CA: a self-signed root, or an intermediate signed by `options.issuer`. */
  async createCa(name: string, options: CaOptions = {}): Promise<CaCert> {
    assertFileName(name);
    const cert = join(this.dir, `${name}.pem`);
    const key = join(this.dir, `${name}.key`);
    const caExtensions = 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n';
    if (!options.issuer) {
      const days = options.notAfter
        ? Math.max(1, Math.ceil((options.notAfter.getTime() - Date.now()) / DAY_MS))
        : 3650;
      await run('openssl', [
        'req',
        '-x509',
        ...EC_KEY,
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        String(days),
        '-subj',
        `/CN=${name}`,
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ]);
      return { name, cert, key, intermediates: [], isRoot: true };
    }
    await this.sign(name, options.issuer, caExtensions, {
      commonName: name,
      notBefore: options.notBefore ?? new Date(Date.now() - 3_600_000),
      notAfter: options.notAfter ?? daysFromNow(3650),
    });
    const issuerIntermediates = options.issuer.isRoot
      ? []
      : [await readFile(options.issuer.cert, 'utf8'), ...options.issuer.intermediates];
    return { name, cert, key, intermediates: issuerIntermediates, isRoot: false };
  }

  /** A server certificate signed by `options.issuer` (default the root CA). */
  async issueLeaf(name: string, options: LeafOptions = {}): Promise<LeafCert> {
    assertFileName(name);
    const issuer = options.issuer ?? this.ca;
    const dns = options.dns ?? ['sip.lab.test', 'localhost'];
    const ips = options.ips ?? ['127.0.0.1', '::1'];
    for (const ip of ips) if (!isIP(ip)) throw new Error(`expected an IP address in ips, received "${ip}"`);
    const sans = [...dns.map((d) => `DNS:${d}`), ...ips.map((ip) => `IP:${ip}`)];
    const extensions =
      'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n' +
      'extendedKeyUsage=serverAuth\n' +
      (sans.length > 0 ? `subjectAltName=${sans.join(',')}\n` : '');
    const notBefore = options.notBefore ?? new Date(Date.now() - 3_600_000);
    const notAfter = options.notAfter ?? daysFromNow(365);
    await this.sign(name, issuer, extensions, {
      commonName: options.commonName ?? dns[0] ?? ips[0] ?? name,
      notBefore,
      notAfter,
    });
    const chain = join(this.dir, `${name}.chain.pem`);
    const intermediates = issuer.isRoot ? [] : [await readFile(issuer.cert, 'utf8'), ...issuer.intermediates];
    await writeFile(
      chain,
      [await readFile(join(this.dir, `${name}.pem`), 'utf8'), ...intermediates].join(''),
    );
    return {
      name,
      cert: join(this.dir, `${name}.pem`),
      key: join(this.dir, `${name}.key`),
      chain,
      notBefore,
      notAfter,
    };
  }

  /** Removes the directory and everything in it. */
  async cleanup(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  private async sign(
    name: string,
    issuer: CaCert,
    extensions: string,
    subject: { commonName: string; notBefore: Date; notAfter: Date },
  ): Promise<void> {
    const key = join(this.dir, `${name}.key`);
    const csr = join(this.dir, `${name}.csr`);
    const extFile = join(this.dir, `${name}.ext`);
    await run('openssl', [
      'req',
      '-new',
      ...EC_KEY,
      '-keyout',
      key,
      '-out',
      csr,
      '-subj',
      `/CN=${subject.commonName}`,
    ]);
    await writeFile(extFile, extensions);
    await run('openssl', [
      'ca',
      '-batch',
      '-notext',
      '-config',
      join(this.dir, 'ca.cnf'),
      '-cert',
      issuer.cert,
      '-keyfile',
      issuer.key,
      '-in',
      csr,
      '-out',
      join(this.dir, `${name}.pem`),
      '-extfile',
      extFile,
      '-startdate',
      opensslTime(subject.notBefore),
      '-enddate',
      opensslTime(subject.notAfter),
    ]);
  }
}

/** The usual set of certificates for TLS tests. */
export interface TestCerts {
  dir: string;
  /** The root CA that signed every leaf below except `untrusted`. */
  ca: CaCert;
  /** Another root CA, trusted by nobody. */
  otherCa: CaCert;
  /** Valid now for a year, with the requested names. */
  valid: LeafCert;
  /** Expired yesterday (valid from 30 days ago). */
  expired: LeafCert;
  /** Valid only from tomorrow. */
  notYetValid: LeafCert;
  /** Valid, but only for the name "wrong.example.test" (no IP). */
  wrongName: LeafCert;
  /** Valid names and dates, but signed by `otherCa`. */
  untrusted: LeafCert;
  pki: TestPki;
  cleanup(): Promise<void>;
}

/**
 * Makes a CA and the usual leaf certificates. `dns` and `ips` are the subjectAltNames of the
 * valid, expired, not-yet-valid and untrusted leaves (default DNS sip.lab.test and localhost,
 * IP 127.0.0.1 and ::1).
 */
export async function makeTestCerts(
  options: { dns?: string[]; ips?: string[]; dir?: string } = {},
): Promise<TestCerts> {
  const pki = await TestPki.create(options.dir);
  try {
    const names = { dns: options.dns, ips: options.ips };
    const otherCa = await pki.createCa('herald-other-ca');
    const valid = await pki.issueLeaf('valid', names);
    const expired = await pki.issueLeaf('expired', {
      ...names,
      notBefore: daysFromNow(-30),
      notAfter: daysFromNow(-1),
    });
    const notYetValid = await pki.issueLeaf('not-yet-valid', {
      ...names,
      notBefore: daysFromNow(1),
      notAfter: daysFromNow(365),
    });
    const wrongName = await pki.issueLeaf('wrong-name', { dns: ['wrong.example.test'], ips: [] });
    const untrusted = await pki.issueLeaf('untrusted', { ...names, issuer: otherCa });
    return {
      dir: pki.dir,
      ca: pki.ca,
      otherCa,
      valid,
      expired,
      notYetValid,
      wrongName,
      untrusted,
      pki,
      cleanup: () => pki.cleanup(),
    };
  } catch (error) {
    await pki.cleanup();
    throw error;
  }
}
