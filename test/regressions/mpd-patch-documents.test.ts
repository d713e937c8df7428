/**
 * MPD Patch documents (ISO/IEC 23009-1 §5.15: `.mpp`, `application/dash-patch+xml`) are manifests of
 * their own format. They used to be sent to viewers as `application/dash+xml`, went around the live
 * manifest cache (every viewer cost the origin a fetch), and were treated as media on the way in: a
 * viewer's Range or If-None-Match reached the origin, whose 206 or 304 then went back without tokens,
 * and a HEAD went upstream as a HEAD with the origin's length.
 */
import { readFileSync } from 'node:fs';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { httpGet, signed, startGateway, TestOrigin } from '../integration/support.js';

const PATCH = readFileSync(new URL('../../fixtures/dash/patch-update.mpp', import.meta.url), 'utf8');
const PATCH_TYPE = 'application/dash-patch+xml';

let origin: TestOrigin;
let gw: Awaited<ReturnType<typeof startGateway>>;

beforeAll(async () => {
  origin = await TestOrigin.start();
  origin.file('/live/ch1/patch.mpp', { body: PATCH, type: PATCH_TYPE });
  origin.file('/live/ch2/patch.mpp', { body: PATCH, type: 'application/octet-stream' });
  origin.file('/live/ch3/patch', { body: PATCH, type: 'application/octet-stream' });
  // One path per test below that needs the origin to be asked (the live cache answers repeats).
  for (const channel of ['ch4', 'ch5', 'ch6']) {
    origin.file(`/live/${channel}/patch.mpp`, { body: PATCH, type: PATCH_TYPE });
  }
  gw = await startGateway(origin.url, { tokens: 'mint' });
});
afterAll(async () => {
  await gw.close();
  await origin.close();
});
afterEach(() => origin.reset());

/** Every URI of the fixture's operations, with the token the gateway must have added. */
function expectTokens(body: string): void {
  const token = 'md5=[A-Za-z0-9_-]{22}&amp;expires=\\d+';
  expect(body).toMatch(new RegExp(`initialization="subs/init\\.mp4\\?${token}"`));
  // A leaf BaseURL carries its token in the path where the scheme has a path form (ffmpeg's DASH
  // demuxer mangles a query there).
  expect(body).toMatch(/<BaseURL>~[A-Za-z0-9_-]{22}~\d+\/video-v2\.mp4<\/BaseURL>/);
  expect(body).toMatch(
    new RegExp(`patch\\.mpp\\?publishTime=2024-01-01T00%3A10%3A04Z&amp;${token}</PatchLocation>`),
  );
}

describe('MPD Patch documents are manifests of their own type', () => {
  it('are sent as application/dash-patch+xml, rewritten, private', async () => {
    const res = await httpGet(gw.url, signed('/live/ch1/patch.mpp'));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(PATCH_TYPE);
    expect(res.headers['cache-control']).toBe('private, no-store');
    expectTokens(res.body.toString('utf8'));
  });

  it('keep their own type when the origin sends a vague one with the .mpp extension, or none at all', async () => {
    for (const path of ['/live/ch2/patch.mpp', '/live/ch3/patch']) {
      const res = await httpGet(gw.url, signed(path));
      expect(res.status, path).toBe(200);
      expect(res.headers['content-type'], path).toBe(PATCH_TYPE);
      expectTokens(res.body.toString('utf8'));
    }
  });

  it('go through the live cache: viewers at the same moment cost the origin one fetch', async () => {
    const answers = await Promise.all(
      Array.from({ length: 4 }, (_, viewer) =>
        httpGet(gw.url, signed('/live/ch4/patch.mpp', { ttl: 300 + viewer })),
      ),
    );
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
    expect(origin.requests.filter((r) => r.url.startsWith('/live/ch4/patch.mpp'))).toHaveLength(1);
  });

  it("a viewer's Range and If-None-Match do not reach the origin: the answer is the whole rewritten patch", async () => {
    const validator = await request(`${origin.url}/live/ch5/patch.mpp`);
    await validator.body.dump();
    origin.reset();
    const ranged = await httpGet(gw.url, signed('/live/ch5/patch.mpp'), {
      range: 'bytes=0-9',
      'if-none-match': String(validator.headers.etag),
    });
    expect(ranged.status).toBe(200);
    expectTokens(ranged.body.toString('utf8'));
    expect(origin.requests).toHaveLength(1);
    expect(origin.requests[0]?.headers.range).toBeUndefined();
    expect(origin.requests[0]?.headers['if-none-match']).toBeUndefined();
  });

  it('a HEAD is answered from a GET: the length of the rewritten patch, no body', async () => {
    const target = signed('/live/ch6/patch.mpp');
    const head = await httpGet(gw.url, target, {}, 'HEAD');
    expect(origin.requests.map((r) => r.method)).toEqual(['GET']);
    const full = await httpGet(gw.url, target);
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(Number(head.headers['content-length'])).toBe(full.body.length);
    expect(head.headers['content-type']).toBe(PATCH_TYPE);
  });

  it('are counted under their own format in the metrics', async () => {
    await httpGet(gw.url, signed('/live/ch1/patch.mpp'));
    const text = await (await request(`${gw.url}/_streamgate/metrics`)).body.text();
    expect(text).toMatch(
      /streamgate_manifests_total\{zone="test",format="dash-patch",outcome="rewritten"\} [1-9]/,
    );
  });
});
