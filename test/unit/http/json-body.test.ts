/**
 * The shared HTTP edge on a real node:http server: which Content-Types are JSON, and the
 * lingering close after an early error answer (the answer is readable, the rest of the body is
 * discarded within its bounds, then the connection closes).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { sendError } from '../../../src/http/answer.js';
import { HttpError } from '../../../src/http/http-error.js';
import { isJsonContentType, readJsonBody } from '../../../src/http/json-body.js';

describe('isJsonContentType', () => {
  test('application/json in any case, with at most a UTF-8 charset', () => {
    for (const type of [
      'application/json',
      'Application/JSON',
      'application/json; charset=utf-8',
      'application/json;charset="UTF-8"',
    ])
      assert.equal(isJsonContentType(type), true, type);
    for (const type of [
      undefined,
      '',
      'text/plain',
      'text/plain;charset=UTF-8',
      'application/octet-stream',
      'application/json; charset=latin1',
      'application/jsonp',
      'application/merge-patch+json',
    ])
      assert.equal(isJsonContentType(type), false, String(type));
  });
});

describe('an error answered before the body is read', () => {
  let server: http.Server;
  let port = 0;
  before(async () => {
    server = http.createServer((request, response) => {
      readJsonBody(request, { maxBytes: 100, timeoutMs: 5000 }).then(
        () => response.end('{}'),
        (error: HttpError) =>
          // /time: bounded by time only; /bytes: by bytes only (its time bound outlasts the test).
          sendError(
            request,
            response,
            error,
            request.url === '/time' ? { maxBytes: 1e9, maxMs: 300 } : { maxBytes: 10_000, maxMs: 60_000 },
          ),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => server.close());

  /** Sends the head and `sent` bytes of a declared 1 MB body; returns what came back and whether the server closed. */
  function partialUpload(path: string, sent: number): Promise<{ answer: string; closed: boolean }> {
    return new Promise((resolve) => {
      let answer = '';
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write(
          `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n`,
        );
        socket.write(Buffer.alloc(sent, ' '));
      });
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (answer += chunk));
      socket.on('end', () => resolve({ answer, closed: true }));
      // Cut off past the bound, the client may see a reset instead of the end: closed all the same.
      socket.on('error', () => resolve({ answer, closed: true }));
      setTimeout(() => {
        socket.destroy();
        resolve({ answer, closed: false });
      }, 3000).unref();
    });
  }

  test('a client that stops sending reads the 413 with Connection: close, and the server closes after maxMs', async () => {
    const started = performance.now();
    const { answer, closed } = await partialUpload('/time', 500);
    assert.match(answer, /^HTTP\/1\.1 413 /);
    assert.match(answer, /\r\nconnection: close\r\n/i);
    assert.match(answer, /"code":"too_large"/);
    assert.ok(closed, 'the server never closed the connection');
    assert.ok(performance.now() - started >= 250, 'closed before the linger time');
  });

  test('a client that keeps sending past maxBytes is cut off after the answer', async () => {
    const { closed } = await partialUpload('/bytes', 200_000);
    assert.ok(closed, 'the server never closed the connection');
  });
});
