/**
 * The CLI's client with several coordinator URLs: which failures move on to the next replica
 * and which do not. Real HTTP servers on loopback stand in for replicas; each counts what it got.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ApiClient } from '../../../src/cli/client/api-client.js';
import { CliError } from '../../../src/util/errors.js';

type Behaviour = 'status' | 'hang-up' | '503' | '409';

class Replica {
  requests: string[] = [];
  behaviour: Behaviour = 'status';
  readonly server = http.createServer((request, response) => {
    this.requests.push(`${request.method} ${request.url}`);
    request.resume();
    request.on('end', () => {
      if (this.behaviour === 'hang-up') return request.socket.destroy();
      if (this.behaviour === '503' || this.behaviour === '409') {
        const status = Number(this.behaviour);
        response.writeHead(status, { 'content-type': 'application/json' });
        return response.end(JSON.stringify({ error: { status, code: 'x', message: `said ${status}` } }));
      }
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ windows: [] }));
    });
  });
  url = '';
  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }
}

async function deadUrl(): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

describe('ApiClient over a list of coordinators', () => {
  const a = new Replica();
  const b = new Replica();
  let dead = '';
  const client = (...urls: string[]) => new ApiClient(urls.map((baseUrl) => ({ baseUrl, token: 't' })));

  before(async () => {
    await a.start();
    await b.start();
    dead = await deadUrl();
  });
  after(() => {
    a.server.close();
    b.server.close();
  });
  const reset = (ba: Behaviour, bb: Behaviour) => {
    a.requests = [];
    b.requests = [];
    a.behaviour = ba;
    b.behaviour = bb;
  };

  it('a POST whose connection was refused goes to the next replica, which then comes first', async () => {
    reset('status', 'status');
    const api = client(dead, a.url, b.url);
    await api.removeWindow('w-1').catch(() => undefined); // DELETE: refused by the dead one, sent to a
    assert.deepEqual(a.requests, ['DELETE /api/v1/windows/w-1']);
    await api.windows();
    assert.equal(api.endpoint.baseUrl, a.url);
    assert.deepEqual(a.requests.length, 2, 'the replica that answered is tried first next time');
  });

  it('a POST cut off after it was sent is not repeated elsewhere, and the error says how to check', async () => {
    reset('hang-up', 'status');
    const api = client(a.url, b.url);
    await assert.rejects(
      api.addWindow({ site: 'lon1', start: 'now', duration: 60_000, reason: 'x' } as never),
      (error: CliError) => /may have reached .* not repeated on another coordinator/.test(error.message),
    );
    assert.equal(a.requests.length, 1);
    assert.deepEqual(b.requests, [], 'the second replica never saw the POST');
  });

  it('a GET cut off after it was sent is repeated on the next replica', async () => {
    reset('hang-up', 'status');
    assert.deepEqual(await client(a.url, b.url).windows(), []);
    assert.deepEqual(b.requests, ['GET /api/v1/windows']);
  });

  it('a 503 (a replica that refuses changes without acting) moves on; a 409 is the answer', async () => {
    reset('503', 'status');
    assert.deepEqual(await client(a.url, b.url).windows(), []);
    assert.equal(b.requests.length, 1);
    reset('409', 'status');
    await assert.rejects(client(a.url, b.url).windows(), /said 409/);
    assert.deepEqual(b.requests, []);
  });

  it('when no replica answers, the error names each', async () => {
    const other = await deadUrl();
    await assert.rejects(client(dead, other).windows(), (error: CliError) => {
      assert.match(error.message, /no coordinator answered/);
      assert.ok(error.message.includes(dead) && error.message.includes(other), error.message);
      return true;
    });
  });
});
