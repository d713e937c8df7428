/**
 * README "Token rules" ("never an open proxy"): requests that try to reach another file, another
 * directory, another zone or another host are refused before the origin is contacted. Each row is
 * sent as exact bytes over a TCP socket, so that no HTTP client normalises it first (fetch and undici
 * resolve `%2e%2e` and refuse absolute-form targets themselves).
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUrl } from '../../src/index.js';
import { startGateway, TestOrigin } from '../integration/support.js';

const KEY = 'attack-table-key';
const HOST = 'cdn.test';

let origin: TestOrigin;
let gw: Awaited<ReturnType<typeof startGateway>>;
let port = 0;

interface RawAnswer {
  /** 0 when the server closed the connection without an HTTP answer. */
  readonly status: number;
  readonly text: string;
}

/** Sends `bytes` and reads until the server closes (every row asks for Connection: close). */
function send(bytes: string | Buffer): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer within 5 s')));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET') finish();
      else reject(error);
    });
    socket.on('end', () => finish());
    let done = false;
    function finish(): void {
      if (done) return;
      done = true;
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
      resolve({ status: status === undefined ? 0 : Number(status), text });
    }
    socket.write(bytes);
  });
}

function get(target: string, headers: string[] = [`Host: ${HOST}`]): string {
  return [`GET ${target} HTTP/1.1`, ...headers, 'Connection: close', '', ''].join('\r\n');
}

const file = (path: string, extra: Partial<Parameters<typeof signUrl>[1]> = {}) =>
  signUrl(path, { scheme: 'gcore', secret: KEY, ttl: 600, ...extra });
const query = (path: string, extra: Partial<Parameters<typeof signUrl>[1]> = {}) =>
  file(path, extra).split('?')[1] ?? '';

interface Row {
  readonly name: string;
  readonly bytes: string | Buffer;
  /** The exact status expected (0: connection closed without an answer). */
  readonly status: number;
}

function rows(): Row[] {
  const fileToken = query('/videos/video-1/seg-1.ts');
  const dirToken = query('/videos/video-1/seg-1.ts', { dir: true });
  const pathToken = /~[^/]+~\d+/.exec(file('/videos/video-1/seg-1.ts', { pathToken: true }))?.[0] ?? '';
  const [md5, expires] = fileToken.split('&');
  const expired = signUrl('/videos/video-1/seg-1.ts', {
    scheme: 'gcore',
    secret: KEY,
    expires: 1_000_000_000,
  });
  return [
    { name: 'dot-dot segment', bytes: get(`/videos/video-1/../video-2/seg-1.ts?${dirToken}`), status: 400 },
    { name: '%2e%2e', bytes: get(`/videos/video-1/%2e%2e/video-2/seg-1.ts?${dirToken}`), status: 400 },
    {
      name: '%2E%2e mixed case',
      bytes: get(`/videos/video-1/%2E%2e/video-2/seg-1.ts?${dirToken}`),
      status: 400,
    },
    {
      name: '.%2e half encoded',
      bytes: get(`/videos/video-1/.%2e/video-2/seg-1.ts?${dirToken}`),
      status: 400,
    },
    { name: 'single dot segment', bytes: get(`/videos/video-1/./seg-1.ts?${fileToken}`), status: 400 },
    {
      name: '%2F encoded slash',
      bytes: get(`/videos/video-1%2F..%2Fvideo-2/seg-1.ts?${dirToken}`),
      status: 400,
    },
    { name: '%2f lower-case slash', bytes: get(`/videos/video-1%2fseg-1.ts?${fileToken}`), status: 400 },
    {
      name: '%252F double-encoded slash',
      bytes: get(`/videos/video-1%252F..%252Fvideo-2/seg-1.ts?${dirToken}`),
      status: 400,
    },
    {
      name: '%252e%252e double-encoded dots',
      bytes: get(`/videos/video-1/%252e%252e/seg-1.ts?${dirToken}`),
      status: 400,
    },
    { name: 'raw backslash', bytes: get(`/videos/video-1/..\\video-2/seg-1.ts?${dirToken}`), status: 400 },
    {
      name: '%5C encoded backslash',
      bytes: get(`/videos/video-1/..%5Cvideo-2/seg-1.ts?${dirToken}`),
      status: 400,
    },
    { name: 'NUL %00', bytes: get(`/videos/video-1/seg-1.ts%00.m3u8?${fileToken}`), status: 400 },
    { name: 'empty segment //', bytes: get(`/videos//video-1/seg-1.ts?${fileToken}`), status: 400 },
    {
      name: 'overlong UTF-8 dots %c0%ae%c0%ae',
      bytes: get(`/videos/video-1/%c0%ae%c0%ae/video-2/seg-1.ts?${dirToken}`),
      status: 400,
    },
    {
      name: 'overlong UTF-8 dot %e0%80%ae',
      bytes: get(`/videos/video-1/%e0%80%ae%e0%80%ae/seg-1.ts?${dirToken}`),
      status: 400,
    },
    {
      name: 'overlong UTF-8 slash %c0%af',
      bytes: get(`/videos/video-1%c0%afseg-1.ts?${dirToken}`),
      status: 400,
    },
    {
      name: 'raw non-ASCII bytes',
      bytes: Buffer.from(get(`/videos/vid\u00e9o-1/seg-1.ts?${fileToken}`), 'utf8'),
      status: 400,
    },
    {
      name: 'fullwidth solidus %EF%BC%8F',
      bytes: get(`/videos/video-1%EF%BC%8F..%EF%BC%8Fvideo-2/seg-1.ts?${dirToken}`),
      status: 403,
    },
    {
      name: 'prefix confusion: /video-1/ token on /video-10/',
      bytes: get(`/videos/video-10/seg-1.ts?${dirToken}`),
      status: 403,
    },
    {
      name: 'directory token on a subdirectory',
      bytes: get(`/videos/video-1/360p/seg-1.ts?${dirToken}`),
      status: 403,
    },
    {
      name: 'file token on a sibling file',
      bytes: get(`/videos/video-1/seg-2.ts?${fileToken}`),
      status: 403,
    },
    {
      name: 'path token followed by ..',
      bytes: get(`/videos/video-1/${pathToken}/../../video-2/seg-1.ts`),
      status: 400,
    },
    { name: 'absolute-form target to another host', bytes: get('http://evil.example/x'), status: 400 },
    {
      name: 'absolute-form target with a valid token',
      bytes: get(`http://${HOST}/videos/video-1/seg-1.ts?${fileToken}`),
      status: 400,
    },
    {
      name: 'absolute-form https target',
      bytes: get(`https://${HOST}/videos/video-1/seg-1.ts?${fileToken}`),
      status: 400,
    },
    { name: 'network-path //evil.example/x', bytes: get('//evil.example/x'), status: 400 },
    {
      name: 'network-path with a valid token',
      bytes: get(`//${HOST}/videos/video-1/seg-1.ts?${fileToken}`),
      status: 400,
    },
    { name: 'asterisk-form', bytes: get('*'), status: 400 },
    {
      name: 'Host: evil.example (no zone for it)',
      bytes: get(`/videos/video-1/seg-1.ts?${fileToken}`, ['Host: evil.example']),
      status: 404,
    },
    {
      name: 'Host with userinfo 127.0.0.1@evil',
      bytes: get(`/videos/video-1/seg-1.ts?${fileToken}`, ['Host: 127.0.0.1@evil']),
      status: 400,
    },
    {
      name: 'Host with a path',
      bytes: get(`/videos/video-1/seg-1.ts?${fileToken}`, [`Host: ${HOST}/x`]),
      status: 400,
    },
    {
      name: 'Host with a space',
      bytes: get(`/videos/video-1/seg-1.ts?${fileToken}`, [`Host: ${HOST} evil.example`]),
      status: 400,
    },
    {
      name: 'two Host headers',
      bytes: get(`/videos/video-1/seg-1.ts?${fileToken}`, [`Host: ${HOST}`, 'Host: evil.example']),
      status: 400,
    },
    {
      name: 'missing Host on HTTP/1.1',
      bytes: get(`/videos/video-1/seg-1.ts?${fileToken}`, []),
      status: 400,
    },
    {
      name: 'duplicated token parameters',
      bytes: get(`/videos/video-1/seg-1.ts?md5=a&md5=b&${expires}`),
      status: 403,
    },
    {
      name: 'the valid token given twice',
      bytes: get(`/videos/video-1/seg-1.ts?${fileToken}&${md5}`),
      status: 403,
    },
    {
      name: 'token name percent-encoded to dodge the duplicate check',
      bytes: get(`/videos/video-1/seg-1.ts?${fileToken}&%6Dd5=x`),
      status: 403,
    },
    {
      name: 'token in both path and query',
      bytes: get(`/videos/video-1/${pathToken}/seg-1.ts?${fileToken}`),
      status: 403,
    },
    {
      name: 'two path tokens',
      bytes: get(`/videos/${pathToken}/video-1/${pathToken}/seg-1.ts`),
      status: 403,
    },
    {
      name: 'fragment hiding the real path',
      bytes: get(`/videos/video-1/seg-2.ts#/../seg-1.ts?${fileToken}`),
      status: 400,
    },
    {
      name: 'fragment after a valid target',
      bytes: get(`/videos/video-1/seg-1.ts?${fileToken}#x`),
      status: 400,
    },
    { name: 'expired token with a valid signature', bytes: get(expired), status: 410 },
    {
      name: 'forged token with a past expiry',
      bytes: get(`/videos/video-1/seg-1.ts?${md5}&expires=1000000000`),
      status: 403,
    },
    { name: 'over-long path', bytes: get(`/videos/${'a'.repeat(5000)}/seg-1.ts?${fileToken}`), status: 400 },
    {
      name: 'request smuggling: Content-Length and Transfer-Encoding',
      bytes: [
        `GET /videos/video-1/seg-1.ts?${fileToken} HTTP/1.1`,
        `Host: ${HOST}`,
        'Content-Length: 5',
        'Transfer-Encoding: chunked',
        'Connection: close',
        '',
        '0',
        '',
        '',
      ].join('\r\n'),
      status: 400,
    },
    {
      name: 'CONNECT tunnel',
      bytes: `CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n`,
      status: 405,
    },
    {
      name: 'TRACE',
      bytes: get(`/videos/video-1/seg-1.ts?${fileToken}`).replace(/^GET/, 'TRACE'),
      status: 405,
    },
    {
      name: 'POST with a valid token',
      bytes: get(`/videos/video-1/seg-1.ts?${fileToken}`).replace(/^GET/, 'POST'),
      status: 405,
    },
    {
      name: 'reserved prefix with a valid token',
      bytes: get(`/_streamgate/x?${query('/_streamgate/x')}`),
      status: 404,
    },
    {
      name: 'reserved prefix percent-encoded',
      bytes: get(`/%5Fstreamgate/healthz?${query('/_streamgate/healthz')}`),
      status: 404,
    },
  ];
}

beforeAll(async () => {
  origin = await TestOrigin.start();
  origin.file('/videos/video-1/seg-1.ts', { body: 'video-1 segment 1' });
  origin.file('/videos/video-2/seg-1.ts', { body: 'video-2 segment 1: must never be served here' });
  gw = await startGateway(
    origin.url,
    {},
    {
      zones: [
        { name: 'cdn', host: HOST, origin: origin.url, scheme: 'gcore', secrets: [KEY] },
        {
          name: 'v1',
          host: HOST,
          pathPrefix: '/videos/video-1',
          origin: origin.url,
          scheme: 'gcore',
          secrets: [KEY],
        },
      ],
    },
  );
  port = gw.listening.port;
});
afterAll(async () => {
  await gw.close();
  await origin.close();
});

describe('attack table: every request is refused and none reaches the origin', () => {
  const table = rows();

  it('has at least 30 rows', () => {
    expect(table.length).toBeGreaterThanOrEqual(30);
  });

  it('refuses every row with its expected status, and the origin sees none of them', async () => {
    origin.reset();
    const outcomes: string[] = [];
    for (const row of table) {
      const answer = await send(row.bytes);
      outcomes.push(`${row.name}: ${answer.status}`);
      expect(answer.status, `${row.name}\n${answer.text.slice(-300)}`).toBe(row.status);
      expect(answer.text).not.toContain('must never be served');
    }
    expect(outcomes).toHaveLength(table.length);
    expect(origin.requests).toEqual([]);
  });

  it('control: the same gateway serves the legitimate requests the rows were made from', async () => {
    origin.reset();
    const ok = [
      get(file('/videos/video-1/seg-1.ts')),
      get(file('/videos/video-1/seg-1.ts', { dir: true })),
      get(file('/videos/video-1/seg-1.ts', { pathToken: true })),
      get(file('/videos/video-1/seg-1.ts'), [`Host: ${HOST}:8080`]),
    ];
    for (const bytes of ok) {
      const answer = await send(bytes);
      expect(answer.status, answer.text.slice(0, 200)).toBe(200);
      expect(answer.text.endsWith('video-1 segment 1')).toBe(true);
    }
    expect(origin.requests.map((r) => r.url)).toEqual(Array(ok.length).fill('/videos/video-1/seg-1.ts'));
  });
});
