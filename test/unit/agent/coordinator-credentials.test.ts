/**
 * readCoordinatorCredentials: the coordinator section's files are read once at start-up, and a
 * missing, unreadable or unusable one is a ConfigError naming the field and the path (every
 * problem at once). Real files from a throwaway PKI (openssl).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { readCoordinatorCredentials } from '../../../src/agent/coordinator-credentials.js';
import type { CoordinatorLinkConfig } from '../../../src/config/agent-schema.js';
import { ConfigError } from '../../../src/config/load.js';
import { opensslSkip, TestPki, type CertFiles } from '../../support/certs.js';
import { issueClientCert } from '../../support/client-certs.js';

const SOURCE = '/etc/herald/agent.yaml';

function link(fields: Partial<CoordinatorLinkConfig>): CoordinatorLinkConfig {
  return { url: 'https://herald.example.net:9180', heartbeat: 5000, ...fields };
}

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    assert.equal(error.file, SOURCE);
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('coordinator credentials', { skip: opensslSkip() }, () => {
  let pki: TestPki;
  let client: CertFiles;
  let other: CertFiles;
  let tokenFile: string;
  const file = (name: string, text: string) => {
    const path = join(pki.dir, name);
    writeFileSync(path, text);
    return path;
  };

  before(async () => {
    pki = await TestPki.create();
    const agentsCa = await pki.createCa('agents-ca');
    client = await issueClientCert(pki, agentsCa, 'lon1-a');
    other = await issueClientCert(pki, agentsCa, 'fra1-a');
    tokenFile = file('agent.token', 'agent-token-lon1-a-000000\n');
  });
  after(() => pki?.cleanup());

  test('reads the token, the CA, the certificate and the key', () => {
    const credentials = readCoordinatorCredentials(
      link({ tokenFile, caFile: pki.ca.cert, certFile: client.cert, keyFile: client.key }),
      SOURCE,
    );
    assert.equal(credentials.token, 'agent-token-lon1-a-000000');
    assert.deepEqual(credentials.tls.ca, readFileSync(pki.ca.cert));
    assert.deepEqual(credentials.tls.cert, readFileSync(client.cert));
    assert.deepEqual(credentials.tls.key, readFileSync(client.key));
  });

  test('a token in the file itself and no TLS files: nothing else is read', () => {
    const read: string[] = [];
    const credentials = readCoordinatorCredentials(
      link({ token: 'inline-token-0000000' }),
      SOURCE,
      (path) => {
        read.push(path);
        return Buffer.alloc(0);
      },
    );
    assert.deepEqual(credentials, { token: 'inline-token-0000000', tls: {} });
    assert.deepEqual(read, []);
  });

  test('missing files: every field named with its path, in one error', () => {
    const missingCert = join(pki.dir, 'nope.crt');
    const missingKey = join(pki.dir, 'nope.key');
    const found = problemsOf(() =>
      readCoordinatorCredentials(
        link({ tokenFile, caFile: pki.dir, certFile: missingCert, keyFile: missingKey }),
        SOURCE,
      ),
    );
    assert.deepEqual(found, [
      `coordinator.caFile: expected a readable file, received ${JSON.stringify(pki.dir)} (a directory)`,
      `coordinator.certFile: expected a readable file, received ${JSON.stringify(missingCert)} (no such file)`,
      `coordinator.keyFile: expected a readable file, received ${JSON.stringify(missingKey)} (no such file)`,
    ]);
    assert.match(
      new ConfigError(SOURCE, found).message,
      /^\/etc\/herald\/agent\.yaml: 3 problems:\n {2}coordinator\.caFile/,
    );
  });

  test('an unreadable file (permission denied) is named too', () => {
    const found = problemsOf(() =>
      readCoordinatorCredentials(
        link({ token: 't', certFile: '/c.pem', keyFile: '/k.pem' }),
        SOURCE,
        (path) => {
          if (path === '/k.pem')
            throw Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: 'EACCES' });
          return readFileSync(client.cert);
        },
      ),
    );
    assert.deepEqual(found, [
      'coordinator.keyFile: expected a readable file, received "/k.pem" (permission denied)',
    ]);
  });

  test('an empty token file is refused', () => {
    const empty = file('empty.token', '\n');
    assert.deepEqual(
      problemsOf(() => readCoordinatorCredentials(link({ tokenFile: empty }), SOURCE)),
      [`coordinator.tokenFile: expected a file holding the token, received an empty file ${empty}`],
    );
  });

  test('files that hold no certificate or key are refused', () => {
    const notPem = file('not-pem.txt', 'hello\n');
    const brokenCert = file(
      'broken.pem',
      '-----BEGIN CERTIFICATE-----\nMIIBbroken\n-----END CERTIFICATE-----\n',
    );
    const found = problemsOf(() =>
      readCoordinatorCredentials(
        link({ token: 't', caFile: notPem, certFile: brokenCert, keyFile: client.cert }),
        SOURCE,
      ),
    );
    assert.equal(found.length, 3, found.join('\n'));
    assert.equal(
      found[0],
      `coordinator.caFile: expected PEM CA certificates in ${notPem}, received no PEM certificate`,
    );
    assert.match(
      found[1]!,
      new RegExp(
        `^coordinator\\.certFile: expected a PEM client certificate in ${brokenCert}, received certificate 1 does not parse`,
      ),
    );
    assert.equal(
      found[2],
      `coordinator.keyFile: expected an unencrypted PEM private key in ${client.cert}, received no PEM private key`,
    );
  });

  test('an encrypted key is refused: the agent takes no passphrase', () => {
    const { privateKey } = generateKeyPairSync('ec', {
      namedCurve: 'prime256v1',
      privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const encrypted = file('encrypted.key', privateKey);
    assert.deepEqual(
      problemsOf(() =>
        readCoordinatorCredentials(link({ token: 't', certFile: client.cert, keyFile: encrypted }), SOURCE),
      ),
      [
        `coordinator.keyFile: expected an unencrypted PEM private key in ${encrypted}, received an encrypted key (the agent takes no passphrase)`,
      ],
    );
  });

  test('a key that is not the certificate’s is refused', () => {
    assert.deepEqual(
      problemsOf(() =>
        readCoordinatorCredentials(link({ token: 't', certFile: client.cert, keyFile: other.key }), SOURCE),
      ),
      [
        `coordinator.keyFile: expected the private key of the certificate in certFile (${client.cert}), received another key in ${other.key}`,
      ],
    );
  });
});
