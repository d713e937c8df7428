import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig, type ConfigInput } from '../../src/config/index.js';
import { signUrl } from '../../src/index.js';
import { writeCountryMmdb } from '../helpers/mmdb.js';
import { httpGet, SECRET, signed, startGateway, TestOrigin, type ZoneInput } from './support.js';

// A zone's policy: — address, country and Referer lists and a limit on denials per client address —
// applied before the token whatever the scheme, each refusal with its own reason (body, access line and
// metrics label). The gateway trusts 127.0.0.1 as a proxy here, so X-Forwarded-For sets the client.

const SEGMENT = '/videos/video-1/seg-1.ts';
let origin: TestOrigin;

beforeAll(async () => {
  origin = await TestOrigin.start();
  origin.file(SEGMENT, { body: 'segment-1', type: 'video/mp2t' });
});
afterAll(async () => {
  await origin.close();
});
afterEach(() => origin.reset());

const TRUSTED = { trustedProxies: ['127.0.0.1'] };
const from = (address: string, headers: Record<string, string> = {}) => ({
  'x-forwarded-for': address,
  ...headers,
});

async function metric(url: string, series: string): Promise<number> {
  const text = (await httpGet(url, '/_streamgate/metrics')).body.toString();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('policy.ipAllow / ipDeny: client addresses, IPv4 and IPv6, deny winning inside an allowed range', () => {
  it('refuses with 403 policy_ip before the token is looked at and before the origin is asked', async () => {
    const gw = await startGateway(
      origin.url,
      {
        policy: {
          ipAllow: ['203.0.113.0/24', '2001:db8::/32'],
          ipDeny: ['203.0.113.128/25', '2001:db8:bad::/48'],
        },
      },
      TRUSTED,
    );
    try {
      const link = signed(SEGMENT);
      const cases: Array<[string, number, string]> = [
        ['203.0.113.7', 200, 'segment-1'],
        ['::ffff:203.0.113.7', 200, 'segment-1'],
        ['2001:db8:1::7', 200, 'segment-1'],
        ['203.0.113.200', 403, '403 Forbidden (policy_ip)\n'],
        ['198.51.100.1', 403, '403 Forbidden (policy_ip)\n'],
        ['2001:db8:bad::1', 403, '403 Forbidden (policy_ip)\n'],
        ['2001:db9::1', 403, '403 Forbidden (policy_ip)\n'],
      ];
      for (const [address, status, body] of cases) {
        const res = await httpGet(gw.url, link, from(address));
        expect(res.status, address).toBe(status);
        expect(res.body.toString(), address).toBe(body);
      }
      expect(origin.requests).toHaveLength(3);
      // An allowed address still needs a good token: the policy comes first, the token second.
      const tampered = link.replace(/md5=(.)/, (_m, c: string) => `md5=${c === 'A' ? 'B' : 'A'}`);
      expect((await httpGet(gw.url, tampered, from('203.0.113.7'))).body.toString()).toBe(
        '403 Forbidden (invalid)\n',
      );
      expect(
        await metric(gw.url, 'streamgate_requests_total{zone="test",status="403",reason="policy_ip"}'),
      ).toBe(4);
    } finally {
      await gw.close();
    }
  });

  it('the access line names the rule and the address', async () => {
    const logs: string[] = [];
    const gw = await startGateway(origin.url, { policy: { ipDeny: ['198.51.100.0/24'] } }, TRUSTED, logs);
    try {
      expect((await httpGet(gw.url, signed(SEGMENT), from('198.51.100.9'))).status).toBe(403);
      await gw.close();
      const access = logs
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((l) => l.msg === 'access');
      expect(access).toMatchObject({
        status: 403,
        reason: 'policy_ip',
        detail: '198.51.100.9 in ipDeny',
        ip: '198.51.100.9',
      });
    } finally {
      await gw.close();
    }
  });
});

describe('policy.countryAllow / countryDeny: from a trusted header or a MaxMind database', () => {
  it('a proxy header: allowed passes, denied and unlisted are 403 policy_country, unknown is refused by an allow list', async () => {
    const gw = await startGateway(
      origin.url,
      { policy: { countryAllow: ['fr', 'DE'], countryDeny: ['DE'] } },
      { ...TRUSTED, geo: { header: 'cf-ipcountry' } },
    );
    try {
      const link = signed(SEGMENT);
      const at = (country?: string) =>
        httpGet(gw.url, link, from('203.0.113.7', country === undefined ? {} : { 'cf-ipcountry': country }));
      expect((await at('FR')).status).toBe(200);
      expect((await at('fr')).status).toBe(200);
      expect((await at('DE')).body.toString()).toBe('403 Forbidden (policy_country)\n');
      expect((await at('US')).status).toBe(403);
      expect((await at()).status).toBe(403);
      expect(origin.requests).toHaveLength(2);
    } finally {
      await gw.close();
    }
  });

  it('a MaxMind-format database (the same lookup ectoken country rules use); a deny list lets unknown countries through', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'streamgate-policy-'));
    const database = join(dir, 'country.mmdb');
    writeFileSync(
      database,
      writeCountryMmdb([
        { cidr: '203.0.113.0/24', country: 'FR' },
        { cidr: '198.51.100.0/24', country: 'RU' },
      ]),
    );
    const gw = await startGateway(
      origin.url,
      { policy: { countryDeny: ['RU'] } },
      { ...TRUSTED, geo: { database } },
    );
    try {
      const link = signed(SEGMENT);
      expect((await httpGet(gw.url, link, from('203.0.113.7'))).status).toBe(200);
      expect((await httpGet(gw.url, link, from('198.51.100.7'))).body.toString()).toBe(
        '403 Forbidden (policy_country)\n',
      );
      expect((await httpGet(gw.url, link, from('192.0.2.1'))).status).toBe(200);
    } finally {
      await gw.close();
    }
  });

  it('country lists without a country source are a configuration problem', () => {
    const result = resolveConfig({
      zones: [
        { name: 'z', origin: origin.url, scheme: 'gcore', secrets: ['k'], policy: { countryAllow: ['FR'] } },
      ],
    });
    expect(result.ok ? [] : result.problems).toEqual([
      "zones[0].policy: country lists need the viewer's country: set geo.database (a GeoLite2-Country .mmdb) or geo.header",
    ]);
  });
});

describe('policy.refererAllow / refererDeny: whole hosts, subdomains, paths, and missing', () => {
  it('matches the host as a whole (example.com.evil.org is not example.com), deny wins, missing is explicit', async () => {
    const zone: Partial<ZoneInput> = {
      policy: {
        refererAllow: ['*.example.com', 'player.example.org/embed', 'missing'],
        refererDeny: ['bad.example.com'],
      },
    };
    const gw = await startGateway(origin.url, zone);
    try {
      const link = signed(SEGMENT);
      const cases: Array<[string | undefined, number]> = [
        ['https://www.example.com/watch?v=1', 200],
        ['https://a.b.example.com/', 200],
        ['http://player.example.org/embed/42', 200],
        [undefined, 200],
        ['', 200],
        ['https://bad.example.com/page', 403],
        ['https://example.com.evil.org/', 403],
        ['https://evilexample.com/', 403],
        ['https://player.example.org/other', 403],
        ['not a url', 403],
      ];
      for (const [referer, status] of cases) {
        const res = await httpGet(gw.url, link, referer === undefined ? {} : { referer });
        expect(res.status, String(referer)).toBe(status);
        if (status === 403) expect(res.body.toString()).toBe('403 Forbidden (policy_referer)\n');
      }
    } finally {
      await gw.close();
    }
    const strict = await startGateway(origin.url, { policy: { refererAllow: ['www.example.com'] } });
    try {
      expect((await httpGet(strict.url, signed(SEGMENT))).status).toBe(403);
      expect(
        (await httpGet(strict.url, signed(SEGMENT), { referer: 'https://www.example.com/' })).status,
      ).toBe(200);
    } finally {
      await strict.close();
    }
  });
});

describe('policy.denialLimit: a client collecting denials is slowed, then refused with 429 and Retry-After', () => {
  const limit = { refuseAfter: 4, slowAfter: 2, slowMs: 300, windowSeconds: 60 };

  it('counts invalid tokens per address, holds the answers past slowAfter, refuses everything at refuseAfter', async () => {
    const gw = await startGateway(origin.url, { policy: { denialLimit: limit } }, TRUSTED);
    try {
      const guess = (address: string) =>
        httpGet(gw.url, `${SEGMENT}?md5=AAAAAAAAAAAAAAAAAAAAAA&expires=2000000000`, from(address));
      const elapsed: number[] = [];
      for (let i = 0; i < 4; i += 1) {
        const started = Date.now();
        expect((await guess('203.0.113.7')).status).toBe(403);
        elapsed.push(Date.now() - started);
      }
      // The third and fourth denials are past slowAfter: held at least slowMs.
      expect(elapsed[2]).toBeGreaterThanOrEqual(290);
      expect(elapsed[3]).toBeGreaterThanOrEqual(290);
      // Now even a good token is refused, before any check and without asking the origin.
      const refused = await httpGet(gw.url, signed(SEGMENT), from('203.0.113.7'));
      expect(refused.status).toBe(429);
      expect(refused.body.toString()).toBe('429 Too Many Requests (rate_limited)\n');
      const retryAfter = Number(refused.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(origin.requests).toHaveLength(0);
      // Another address is not affected; an IPv6 client is counted by its /64.
      expect((await httpGet(gw.url, signed(SEGMENT), from('203.0.113.8'))).status).toBe(200);
      for (let i = 1; i <= 4; i += 1) expect((await guess(`2001:db8:1:2::${i}`)).status).toBe(403);
      expect((await httpGet(gw.url, signed(SEGMENT), from('2001:db8:1:2:ffff::9'))).status).toBe(429);
      expect((await httpGet(gw.url, signed(SEGMENT), from('2001:db8:1:3::1'))).status).toBe(200);
      expect(
        await metric(gw.url, 'streamgate_requests_total{zone="test",status="429",reason="rate_limited"}'),
      ).toBe(2);
      // A reload that keeps the limit keeps the count: the guesser is still refused.
      const reloaded = gw.gateway.reload({
        log: { level: 'silent' },
        ...TRUSTED,
        zones: [
          {
            name: 'test',
            origin: origin.url,
            scheme: 'gcore',
            secrets: [SECRET],
            segmentTtl: 30,
            policy: { denialLimit: limit },
          },
        ],
      } as ConfigInput);
      expect(reloaded.ok).toBe(true);
      expect((await httpGet(gw.url, signed(SEGMENT), from('203.0.113.7'))).status).toBe(429);
    } finally {
      await gw.close();
    }
  });

  it('expired links are not counted by default (a player with an old link is no guesser); count: [expired] counts them', async () => {
    const gw = await startGateway(origin.url, { policy: { denialLimit: limit } }, TRUSTED);
    try {
      const expired = signUrl(SEGMENT, { scheme: 'gcore', secret: SECRET, expires: 1_000_000_000 });
      for (let i = 0; i < 8; i += 1)
        expect((await httpGet(gw.url, expired, from('203.0.113.7'))).status).toBe(410);
    } finally {
      await gw.close();
    }
    const counting = await startGateway(
      origin.url,
      { policy: { denialLimit: { ...limit, slowMs: 0, count: ['expired', 'missing'] } } },
      TRUSTED,
    );
    try {
      for (let i = 0; i < 4; i += 1)
        expect((await httpGet(counting.url, SEGMENT, from('203.0.113.7'))).status).toBe(403);
      expect((await httpGet(counting.url, SEGMENT, from('203.0.113.7'))).status).toBe(429);
    } finally {
      await counting.close();
    }
  });

  it('after Retry-After the address may ask again', async () => {
    const gw = await startGateway(
      origin.url,
      { policy: { denialLimit: { refuseAfter: 2, slowAfter: 0, slowMs: 0, windowSeconds: 1 } } },
      TRUSTED,
    );
    try {
      for (let i = 0; i < 2; i += 1)
        expect((await httpGet(gw.url, `${SEGMENT}?md5=x&expires=1`, from('203.0.113.7'))).status).toBe(403);
      const refused = await httpGet(gw.url, signed(SEGMENT), from('203.0.113.7'));
      expect(refused.status).toBe(429);
      expect(refused.headers['retry-after']).toBe('1');
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect((await httpGet(gw.url, signed(SEGMENT), from('203.0.113.7'))).status).toBe(200);
    } finally {
      await gw.close();
    }
  });

  it('settings are checked: slowAfter below refuseAfter, lists of valid entries, known keys', () => {
    const result = resolveConfig({
      zones: [
        {
          name: 'z',
          origin: origin.url,
          scheme: 'gcore',
          secrets: ['k'],
          policy: {
            ipAllow: ['10.0.0.0/33'],
            refererDeny: ['https://evil.example/'],
            countryDeny: ['France'],
            denialLimit: { refuseAfter: 5, slowAfter: 5, count: ['guess'] },
            rateLimit: 1,
          },
        },
      ],
    } as unknown as ConfigInput);
    const text = result.ok ? '' : result.problems.join('\n');
    expect(text).toContain(
      'zones[0].policy.ipAllow[0]: must be an address or CIDR, e.g. 203.0.113.0/24 (prefix length "33"',
    );
    expect(text).toContain('zones[0].policy.refererDeny[0]: must be a host (www.example.com)');
    expect(text).toContain('zones[0].policy.countryDeny[0]: must be an ISO 3166-1 alpha-2 country code');
    expect(text).toContain('zones[0].policy.denialLimit.count[0]');
    expect(text).toContain('zones[0].policy.rateLimit: unknown key');
  });
});

describe('policy at /_streamgate/auth: the same refusals for a front proxy, each a 403 with its reason', () => {
  it('address lists and the denial limit, with Retry-After, before the token', async () => {
    const gw = await startGateway(
      origin.url,
      { policy: { ipDeny: ['198.51.100.0/24'], denialLimit: { refuseAfter: 2, slowAfter: 0, slowMs: 0 } } },
      TRUSTED,
    );
    try {
      const auth = (target: string, client: string) =>
        httpGet(gw.url, '/_streamgate/auth', { 'x-original-uri': target, 'x-forwarded-for': client });
      expect((await auth(signed(SEGMENT), '203.0.113.7')).status).toBe(204);
      const listed = await auth(signed(SEGMENT), '198.51.100.7');
      expect(listed.status).toBe(403);
      expect(listed.headers['x-streamgate-reason']).toBe('policy_ip');
      const guess = `${SEGMENT}?md5=AAAAAAAAAAAAAAAAAAAAAA&expires=2000000000`;
      for (let i = 0; i < 2; i += 1)
        expect((await auth(guess, '203.0.113.9')).headers['x-streamgate-reason']).toBe('invalid');
      const limited = await auth(signed(SEGMENT), '203.0.113.9');
      // nginx's auth_request passes only 401 and 403 on: the limit is a 403 here, its reason and wait in headers.
      expect(limited.status).toBe(403);
      expect(limited.headers['x-streamgate-reason']).toBe('rate_limited');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(origin.requests).toHaveLength(0);
    } finally {
      await gw.close();
    }
  });
});
