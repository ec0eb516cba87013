import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { describeReadError, readConfigFile } from '../../../src/probes/config-file.js';
import { loadPemCertificate } from '../../../src/probes/pem-files.js';
import { loadSecretFile } from '../../../src/probes/secret-file.js';

const dir = mkdtempSync(join(tmpdir(), 'herald-config-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: something, open '/x'`), { code });
}

describe('readConfigFile', () => {
  it('returns the text of a readable file', () => {
    const path = join(dir, 'ok.txt');
    writeFileSync(path, 'hello\n');
    assert.deepEqual(readConfigFile(path, 'caFile'), { ok: true, text: 'hello\n' });
  });

  it('names the field, the path and "no such file" for a missing file', () => {
    const path = join(dir, 'absent.pem');
    assert.deepEqual(readConfigFile(path, 'caFile'), {
      ok: false,
      detail: `cannot read caFile ${path}: no such file`,
    });
  });

  it('says "is a directory" when the path is a directory', () => {
    assert.deepEqual(readConfigFile(dir, 'credentials.secretFile'), {
      ok: false,
      detail: `cannot read credentials.secretFile ${dir}: is a directory`,
    });
  });

  it('names the errno in words, or the bare code when it has no words', () => {
    assert.equal(describeReadError(errno('EACCES')), 'permission denied');
    assert.equal(describeReadError(errno('EPERM')), 'permission denied');
    assert.equal(describeReadError(errno('ENOTDIR')), 'a parent is not a directory');
    assert.equal(describeReadError(errno('EIO')), 'EIO');
    assert.equal(describeReadError(new Error('odd')), 'odd');
    assert.equal(describeReadError('not an error'), 'not an error');
  });
});

describe('both file readers name the errno the same way', () => {
  it('a missing CA and a missing secret give the same reason shape', () => {
    const path = join(dir, 'none');
    const pem = loadPemCertificate(path, 'caFile');
    const secret = loadSecretFile(path, 'credentials.secretFile');
    assert.deepEqual(pem, { ok: false, detail: `cannot read caFile ${path}: no such file` });
    assert.deepEqual(secret, {
      ok: false,
      detail: `cannot read credentials.secretFile ${path}: no such file`,
    });
  });

  it('a directory given as a PEM file is refused with the words, not a raw message', () => {
    assert.deepEqual(loadPemCertificate(dir, 'expectedCertFile'), {
      ok: false,
      detail: `cannot read expectedCertFile ${dir}: is a directory`,
    });
  });
});
