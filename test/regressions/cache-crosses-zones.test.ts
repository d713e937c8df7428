/**
 * The live manifest cache was keyed by the origin path and query alone: two zones that differ by Host
 * or by origin and serve the same path (`/live/index.m3u8`) answered each other's viewers from it.
 * Property: for any set of zones over three real origins, and any sequence of requests, every live
 * playlist a viewer gets comes from the origin of the zone that the request belongs to — worked out
 * here independently of the gateway's router (longest prefix, segment by segment; at equal length a
 * zone bound to the Host wins).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGet, signed, startGateway, TestOrigin, type ZoneInput } from '../integration/support.js';

const ORIGINS = 3;
const HOSTS = ['a.test', 'b.test', 'c.test'] as const;
const PATHS = ['/live/index.m3u8', '/index.m3u8', '/live/hd/index.m3u8'] as const;

let origins: TestOrigin[] = [];

/** A live media playlist (no ENDLIST: cached) that says which origin wrote it. */
function livePlaylist(id: number): string {
  return [
    '#EXTM3U',
    '#EXT-X-VERSION:3',
    '#EXT-X-TARGETDURATION:6',
    '#EXT-X-MEDIA-SEQUENCE:7',
    '#EXTINF:6.0,',
    `origin-${id}-seg-7.ts`,
    '',
  ].join('\n');
}

beforeAll(async () => {
  origins = await Promise.all(Array.from({ length: ORIGINS }, () => TestOrigin.start()));
  origins.forEach((origin, id) => {
    for (const path of PATHS) {
      origin.file(path, { body: livePlaylist(id), type: 'application/vnd.apple.mpegurl' });
    }
  });
});
afterAll(async () => {
  await Promise.all(origins.map((origin) => origin.close()));
});

interface ZoneSpec {
  readonly host: (typeof HOSTS)[number] | undefined;
  readonly prefix: '/' | '/live';
  readonly origin: number;
}

/** The zone a request belongs to, by the rules the operations guide states. */
function expectedZone(zones: readonly ZoneSpec[], host: string, path: string): ZoneSpec | undefined {
  const matching = zones.filter(
    (zone) =>
      (zone.host === undefined || zone.host === host) &&
      (zone.prefix === '/' || path === zone.prefix || path.startsWith(`${zone.prefix}/`)),
  );
  matching.sort(
    (a, b) =>
      b.prefix.length - a.prefix.length || (b.host === undefined ? 0 : 1) - (a.host === undefined ? 0 : 1),
  );
  return matching[0];
}

const zoneSpec = fc.record({
  host: fc.constantFrom<ZoneSpec['host']>(undefined, ...HOSTS),
  prefix: fc.constantFrom<ZoneSpec['prefix']>('/', '/live'),
  origin: fc.integer({ min: 0, max: ORIGINS - 1 }),
});
// Two zones may not answer the same host and prefix (the configuration refuses it).
const zoneSets = fc.uniqueArray(zoneSpec, {
  minLength: 1,
  maxLength: 5,
  selector: (zone) => `${zone.host ?? '*'} ${zone.prefix}`,
});
const requests = fc.array(fc.record({ host: fc.constantFrom(...HOSTS), path: fc.constantFrom(...PATHS) }), {
  minLength: 2,
  maxLength: 8,
});

async function check(zones: readonly ZoneSpec[], sequence: ReadonlyArray<{ host: string; path: string }>) {
  const gw = await startGateway(
    origins[0]!.url,
    {},
    {
      zones: zones.map((zone, index): ZoneInput => ({
        name: `z${index}`,
        pathPrefix: zone.prefix,
        ...(zone.host === undefined ? {} : { host: zone.host }),
        origin: origins[zone.origin]!.url,
        scheme: 'gcore',
        secrets: ['cache-zones-key'],
        tokens: 'mint',
      })),
    },
  );
  try {
    for (const { host, path } of sequence) {
      const res = await httpGet(gw.url, signed(path, { secret: 'cache-zones-key' }), { host });
      const zone = expectedZone(zones, host, path);
      const body = res.body.toString('utf8');
      if (zone === undefined) {
        expect(res.status, `${host}${path}`).toBe(404);
        continue;
      }
      expect(res.status, `${host}${path}`).toBe(200);
      expect(body, `${host}${path} belongs to origin ${zone.origin}`).toContain(
        `origin-${zone.origin}-seg-7.ts`,
      );
    }
  } finally {
    await gw.close();
  }
}

describe('live manifest cache: one zone never answers from another zone’s fetch', () => {
  it('two host zones on different origins, same path', async () => {
    await check(
      [
        { host: 'a.test', prefix: '/live', origin: 0 },
        { host: 'b.test', prefix: '/live', origin: 1 },
      ],
      [
        { host: 'a.test', path: '/live/index.m3u8' },
        { host: 'b.test', path: '/live/index.m3u8' },
        { host: 'a.test', path: '/live/index.m3u8' },
      ],
    );
  });

  it('a host zone and an any-host zone on different origins, same path', async () => {
    await check(
      [
        { host: undefined, prefix: '/', origin: 2 },
        { host: 'b.test', prefix: '/', origin: 1 },
      ],
      [
        { host: 'c.test', path: '/index.m3u8' },
        { host: 'b.test', path: '/index.m3u8' },
      ],
    );
  });

  it('property: any zone set, any request sequence', async () => {
    await fc.assert(
      fc.asyncProperty(zoneSets, requests, async (zones, sequence) => {
        await check(zones, sequence);
      }),
      { numRuns: 30 },
    );
  });
});
