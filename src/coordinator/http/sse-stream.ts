/**
 * Server side of an SSE stream: headers, a keepalive comment so dead peers are noticed, and a
 * bound on buffered output so one slow client cannot grow the coordinator's memory.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { formatSse, formatSseComment } from '../../wire/sse.js';

const MAX_BUFFERED_BYTES = 4_000_000;

export interface SseStream {
  send(event: string, data: unknown, id?: number | string): void;
  close(): void;
  /** Called once when the stream ends for any reason. */
  onClose(callback: () => void): void;
  readonly closed: boolean;
}

export function openSse(request: IncomingMessage, response: ServerResponse, keepaliveMs: number): SseStream {
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  response.flushHeaders();
  request.socket.setNoDelay(true);
  request.socket.setKeepAlive(true, keepaliveMs);
  const callbacks: (() => void)[] = [];
  let closed = false;
  const finish = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepalive);
    for (const callback of callbacks.splice(0)) callback();
  };
  const write = (text: string) => {
    if (closed) return;
    if (response.writableLength > MAX_BUFFERED_BYTES) {
      response.destroy(new Error('client too slow: dropped'));
      return;
    }
    response.write(text);
  };
  const keepalive = setInterval(() => write(formatSseComment('keepalive')), keepaliveMs);
  response.on('close', finish);
  request.on('close', finish);
  return {
    send: (event, data, id) => write(formatSse(event, data, id)),
    close: () => {
      finish();
      response.end();
    },
    onClose: (callback) => {
      if (closed) callback();
      else callbacks.push(callback);
    },
    get closed() {
      return closed;
    },
  };
}
