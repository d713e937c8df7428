/**
 * RFC 9112 §9.3.2: responses to pipelined requests go out in the order the requests came. A CONNECT
 * (or bytes that are no request at all) pipelined after a GET on one connection used to be answered at
 * once — its 405 (or 400) came first and the socket was closed, so the GET's 200 was lost. Every case
 * here sends the exact pipelined bytes over one raw TCP socket and reads the whole answer stream.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signed, startGateway, TestOrigin } from '../integration/support.js';

const SEGMENT = 'segment-body-0123456789';
const BIG = 8 * 1024 * 1024;

let origin: TestOrigin;
let gw: Awaited<ReturnType<typeof startGateway>>;

beforeAll(async () => {
  origin = await TestOrigin.start();
  // The origin is slow, so the GET is still in flight when the second request is read.
  origin.route('/videos/slow.ts', (_req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'video/mp2t', 'content-length': String(SEGMENT.length) });
      res.end(SEGMENT);
    }, 150);
  });
  origin.route('/videos/big.ts', (_req, res) => {
    res.writeHead(200, { 'content-type': 'video/mp2t', 'content-length': String(BIG) });
    res.end(Buffer.alloc(BIG, 0x47));
  });
  gw = await startGateway(origin.url);
});
afterAll(async () => {
  await gw.close();
  await origin.close();
});

interface Exchange {
  readonly raw: Buffer;
  /** Status codes of the responses read, in order. */
  readonly statuses: number[];
  /** How the connection ended: the server closed it, or the test gave up. */
  readonly ended: 'closed' | 'timeout';
}

/** Sends `bytes` on one connection and reads until the server closes it; `pauseMs`: read nothing at first. */
function pipeline(bytes: string, pauseMs = 0): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = connect(gw.listening.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let ended: Exchange['ended'] = 'closed';
    const timer = setTimeout(() => {
      ended = 'timeout';
      socket.destroy();
    }, 8000);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks);
      const statuses = [...raw.toString('latin1').matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
      resolve({ raw, statuses, ended });
    });
    if (pauseMs > 0) {
      socket.pause();
      setTimeout(() => socket.resume(), pauseMs);
    }
    socket.write(bytes);
  });
}

const get = (target: string): string => `GET ${target} HTTP/1.1\r\nHost: cdn.test\r\n\r\n`;

describe('a CONNECT or garbage pipelined after a GET', () => {
  it('CONNECT after GET: the 200 with its whole body first, then the 405, then the connection closes', async () => {
    const answer = await pipeline(
      get(signed('/videos/slow.ts')) + 'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n',
    );
    expect(answer.ended).toBe('closed');
    expect(answer.statuses).toEqual([200, 405]);
    const text = answer.raw.toString('latin1');
    expect(text.indexOf(SEGMENT)).toBeGreaterThan(0);
    expect(text.indexOf(SEGMENT)).toBeLessThan(text.indexOf('HTTP/1.1 405'));
    expect(text).toMatch(/HTTP\/1\.1 405 Method Not Allowed\r\nAllow: GET, HEAD, OPTIONS\r\n/);
  });

  it('two GETs then a CONNECT: both answers in order, then the 405', async () => {
    const target = signed('/videos/slow.ts');
    const answer = await pipeline(
      get(target) + get(target) + 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n',
    );
    expect(answer.statuses).toEqual([200, 200, 405]);
    expect(answer.raw.toString('latin1').split(SEGMENT)).toHaveLength(3);
  });

  it('a CONNECT after an 8 MiB segment that the viewer reads late: every byte arrives, then the 405', async () => {
    // The viewer does not read for a while, so the gateway's writes back up and wait for 'drain'
    // after the CONNECT took the socket out of Node's hands.
    const answer = await pipeline(
      get(signed('/videos/big.ts')) + 'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n',
      400,
    );
    expect(answer.ended).toBe('closed');
    expect(answer.statuses).toEqual([200, 405]);
    const text = answer.raw.toString('latin1');
    const bodyStart = text.indexOf('\r\n\r\n') + 4;
    const second = text.indexOf('HTTP/1.1 405');
    expect(second - bodyStart).toBe(BIG);
  });

  it('bytes that are no request after a GET: the 200 first, then 400, then close', async () => {
    const answer = await pipeline(get(signed('/videos/slow.ts')) + 'GARBAGE \x01\x02\r\n\r\n');
    expect(answer.ended).toBe('closed');
    expect(answer.statuses).toEqual([200, 400]);
    expect(answer.raw.toString('latin1')).toContain(SEGMENT);
  });

  it('a request with both Content-Length and Transfer-Encoding (smuggling) after a GET: 200, then 400', async () => {
    const answer = await pipeline(
      get(signed('/videos/slow.ts')) +
        'GET /videos/slow.ts HTTP/1.1\r\nHost: cdn.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    );
    expect(answer.statuses).toEqual([200, 400]);
    expect(answer.raw.toString('latin1')).toContain(SEGMENT);
  });

  it('a lone CONNECT is answered 405 at once, and the origin never sees any of these', async () => {
    const answer = await pipeline('CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n');
    expect(answer.statuses).toEqual([405]);
    expect(origin.requests.every((request) => request.method === 'GET')).toBe(true);
    expect(origin.requests.some((request) => request.url.includes('evil'))).toBe(false);
  });

  it('a lone malformed request still gets 400 at once', async () => {
    const answer = await pipeline('NOT HTTP AT ALL\r\n\r\n');
    expect(answer.statuses).toEqual([400]);
  });
});
