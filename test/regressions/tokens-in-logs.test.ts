/**
 * Tokens never reach the logs, however they were spelled. A path token whose tildes were written `%7e`
 * (the gateway decodes the path, so it accepts that) used to be logged in full — at warn on an origin
 * failure, at debug on success — and a token after a `;` in the query appeared in the info line of the
 * denial. This sweeps every log level × every spelling the gateway accepts (and neighbours it refuses:
 * a token is a credential even in a request that was denied) × the requests that write lines (success,
 * manifest, origin failure, denial, refused path, unknown zone), through a real gateway and origin, and
 * checks that no log line holds any 16 characters of any token, or any key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUrl } from '../../src/index.js';
import { httpGet, startGateway, TestOrigin, type ZoneInput } from '../integration/support.js';

const KEYS = { gcore: 'gcore-log-key-1', keycdn: 'keycdn-log-key-1', ectoken: 'EctokenLogKey123' } as const;
const THIRD_PARTY_TOKEN = 'NimbleSignatureValue0123456789abcdefXYZ';
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

const ZONES: ZoneInput[] = [
  { name: 'gcore', pathPrefix: '/v', origin: '', scheme: 'gcore', secrets: [KEYS.gcore], tokens: 'mint' },
  { name: 'keycdn', pathPrefix: '/k', origin: '', scheme: 'keycdn', secrets: [KEYS.keycdn], tokens: 'mint' },
  {
    name: 'ectoken',
    pathPrefix: '/e',
    origin: '',
    scheme: 'ectoken',
    secrets: [KEYS.ectoken],
    tokens: 'mint',
  },
  {
    name: 'renamed',
    pathPrefix: '/r',
    origin: '',
    scheme: 'ectoken',
    secrets: [KEYS.ectoken],
    tokens: 'forward',
    ectoken: { param: 'auth_t' },
  },
];

/** A live playlist with a relative segment and a foreign one carrying another system's credential. */
const PLAYLIST = [
  '#EXTM3U',
  '#EXT-X-TARGETDURATION:4',
  '#EXT-X-MEDIA-SEQUENCE:1',
  '#EXTINF:4,',
  'seg.ts',
  '#EXTINF:4,',
  `https://cdn.other.example/seg.ts?wmsAuthSign=${THIRD_PARTY_TOKEN}`,
  '',
].join('\n');

let origin: TestOrigin;

beforeAll(async () => {
  origin = await TestOrigin.start();
  for (const prefix of ['/v', '/k', '/e', '/r']) {
    origin.file(`${prefix}/seg.ts`, { body: 'media', type: 'video/mp2t' });
    origin.file(`${prefix}/index.m3u8`, { body: PLAYLIST, type: 'application/vnd.apple.mpegurl' });
    origin.route(`${prefix}/broken.ts`, (_req, res) => res.socket?.destroy());
  }
});
afterAll(async () => {
  await origin.close();
});

interface Spelled {
  readonly target: string;
  /** Token texts that must not appear in any log line. */
  readonly tokens: readonly string[];
}

type Speller = (path: string) => Spelled;

const split = (url: string, name: string): string => new URL(url, 'http://x').searchParams.get(name) ?? '';
/** `text` with its first three characters percent-encoded (a spelling the check decodes). */
const encodeHead = (text: string): string =>
  [...text.slice(0, 3)].map((c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).join('') + text.slice(3);

function gcore(path: string): { token: string; expires: string } {
  const url = signUrl(path, { scheme: 'gcore', secret: KEYS.gcore, ttl: 600 });
  return { token: split(url, 'md5'), expires: split(url, 'expires') };
}
function gcorePath(path: string): { token: string; expires: string; dir: string; file: string } {
  const url = signUrl(path, { scheme: 'gcore', secret: KEYS.gcore, ttl: 600, pathToken: true });
  const match = /^(.*\/)~([^~]+)~(\d+)\/(.*)$/.exec(url)!;
  return { dir: match[1]!, token: match[2]!, expires: match[3]!, file: match[4]! };
}
function keycdn(path: string): { token: string; expires: string } {
  const url = signUrl(path, { scheme: 'keycdn', secret: KEYS.keycdn, ttl: 600 });
  return { token: split(url, 'token'), expires: split(url, 'expire') };
}
function ectoken(path: string, param = 'token'): string {
  return split(signUrl(path, { scheme: 'ectoken', secret: KEYS.ectoken, ttl: 600, param }), param);
}
/** The same token in standard base64 with padding, percent-encoded (every ectoken decoder reads both). */
function standardBase64(token: string): string {
  const standard = token.replace(/-/g, '+').replace(/_/g, '/');
  return encodeURIComponent(standard + '='.repeat((4 - (standard.length % 4)) % 4));
}

const SPELLINGS: ReadonlyArray<readonly [string, string, Speller]> = [
  [
    'gcore query',
    '/v',
    (p) => ((t) => ({ target: `${p}?md5=${t.token}&expires=${t.expires}`, tokens: [t.token] }))(gcore(p)),
  ],
  [
    'gcore reversed',
    '/v',
    (p) => ((t) => ({ target: `${p}?expires=${t.expires}&md5=${t.token}`, tokens: [t.token] }))(gcore(p)),
  ],
  [
    'gcore after ;',
    '/v',
    (p) => ((t) => ({ target: `${p}?x=1;md5=${t.token}&expires=${t.expires}`, tokens: [t.token] }))(gcore(p)),
  ],
  [
    'gcore ; before it',
    '/v',
    (p) => ((t) => ({ target: `${p}?expires=${t.expires};md5=${t.token}`, tokens: [t.token] }))(gcore(p)),
  ],
  [
    'gcore %-name',
    '/v',
    (p) => ((t) => ({ target: `${p}?%6Dd5=${t.token}&expires=${t.expires}`, tokens: [t.token] }))(gcore(p)),
  ],
  [
    'gcore all-%-name',
    '/v',
    (p) =>
      ((t) => ({ target: `${p}?%6d%64%35=${t.token}&expires=${t.expires}`, tokens: [t.token] }))(gcore(p)),
  ],
  [
    'gcore upper-case name',
    '/v',
    (p) => ((t) => ({ target: `${p}?MD5=${t.token}&expires=${t.expires}`, tokens: [t.token] }))(gcore(p)),
  ],
  [
    'gcore double-%-name',
    '/v',
    (p) => ((t) => ({ target: `${p}?%256Dd5=${t.token}&expires=${t.expires}`, tokens: [t.token] }))(gcore(p)),
  ],
  [
    'gcore %-value',
    '/v',
    (p) =>
      ((t) => ({ target: `${p}?md5=${encodeHead(t.token)}&expires=${t.expires}`, tokens: [t.token] }))(
        gcore(p),
      ),
  ],
  [
    'gcore twice',
    '/v',
    (p) =>
      ((t) => ({ target: `${p}?md5=${t.token}&md5=${t.token}&expires=${t.expires}`, tokens: [t.token] }))(
        gcore(p),
      ),
  ],
  [
    'gcore with a fragment',
    '/v',
    (p) => ((t) => ({ target: `${p}?expires=${t.expires}#md5=${t.token}`, tokens: [t.token] }))(gcore(p)),
  ],
  [
    'path token',
    '/v',
    (p) =>
      ((t) => ({ target: `${t.dir}~${t.token}~${t.expires}/${t.file}`, tokens: [t.token] }))(gcorePath(p)),
  ],
  [
    'path token %7e',
    '/v',
    (p) =>
      ((t) => ({ target: `${t.dir}%7e${t.token}%7e${t.expires}/${t.file}`, tokens: [t.token] }))(
        gcorePath(p),
      ),
  ],
  [
    'path token %7E',
    '/v',
    (p) =>
      ((t) => ({ target: `${t.dir}%7E${t.token}%7E${t.expires}/${t.file}`, tokens: [t.token] }))(
        gcorePath(p),
      ),
  ],
  [
    'path token ~ and %7e',
    '/v',
    (p) =>
      ((t) => ({ target: `${t.dir}~${t.token}%7e${t.expires}/${t.file}`, tokens: [t.token] }))(gcorePath(p)),
  ],
  [
    'path token %-token',
    '/v',
    (p) =>
      ((t) => ({ target: `${t.dir}~${encodeHead(t.token)}~${t.expires}/${t.file}`, tokens: [t.token] }))(
        gcorePath(p),
      ),
  ],
  [
    'path token then ..',
    '/v',
    (p) =>
      ((t) => ({ target: `${t.dir}~${t.token}~${t.expires}/../${t.file}`, tokens: [t.token] }))(gcorePath(p)),
  ],
  [
    'path token %257e',
    '/v',
    (p) =>
      ((t) => ({ target: `${t.dir}%257e${t.token}%257e${t.expires}/${t.file}`, tokens: [t.token] }))(
        gcorePath(p),
      ),
  ],
  [
    'keycdn query',
    '/k',
    (p) => ((t) => ({ target: `${p}?token=${t.token}&expire=${t.expires}`, tokens: [t.token] }))(keycdn(p)),
  ],
  [
    'keycdn upper-case',
    '/k',
    (p) => ((t) => ({ target: `${p}?TOKEN=${t.token}&expire=${t.expires}`, tokens: [t.token] }))(keycdn(p)),
  ],
  [
    'keycdn %-name',
    '/k',
    (p) => ((t) => ({ target: `${p}?tok%65n=${t.token}&expire=${t.expires}`, tokens: [t.token] }))(keycdn(p)),
  ],
  ['ectoken param', '/e', (p) => ((x) => ({ target: `${p}?token=${x}`, tokens: [x] }))(ectoken(p))],
  ['ectoken bare', '/e', (p) => ((x) => ({ target: `${p}?${x}`, tokens: [x] }))(ectoken(p))],
  ['ectoken bare after a pair', '/e', (p) => ((x) => ({ target: `${p}?a=1&${x}`, tokens: [x] }))(ectoken(p))],
  ['ectoken bare after ;', '/e', (p) => ((x) => ({ target: `${p}?a=1;${x}`, tokens: [x] }))(ectoken(p))],
  [
    'ectoken bare, standard base64, %3D padding',
    '/e',
    (p) =>
      ((x) => ({ target: `${p}?${standardBase64(x)}`, tokens: [x, decodeURIComponent(standardBase64(x))] }))(
        ectoken(p),
      ),
  ],
  ['ectoken %-name', '/e', (p) => ((x) => ({ target: `${p}?%74oken=${x}`, tokens: [x] }))(ectoken(p))],
  ['ectoken upper-case name', '/e', (p) => ((x) => ({ target: `${p}?TOKEN=${x}`, tokens: [x] }))(ectoken(p))],
  [
    'ectoken renamed parameter',
    '/r',
    (p) => ((x) => ({ target: `${p}?auth_t=${x}`, tokens: [x] }))(ectoken(p, 'auth_t')),
  ],
  [
    'ectoken renamed, upper-case',
    '/r',
    (p) => ((x) => ({ target: `${p}?AUTH_T=${x}`, tokens: [x] }))(ectoken(p, 'auth_t')),
  ],
];

/** Request paths, under a zone's prefix (or under none: the unknown-zone answer logs the target too). */
const FILES = ['seg.ts', 'index.m3u8', 'broken.ts', 'missing.ts'];

function windows(token: string, size = 16): string[] {
  if (token.length <= size) return [token];
  return Array.from({ length: token.length - size + 1 }, (_, i) => token.slice(i, i + size));
}

describe('no token and no key in any log line, at any level, however the token was spelled', () => {
  it('has the spellings and levels it claims', () => {
    expect(SPELLINGS.length).toBeGreaterThanOrEqual(30);
    expect(LEVELS).toHaveLength(6);
  });

  for (const level of LEVELS) {
    it(`level ${level}`, async () => {
      const logs: string[] = [];
      const zones = ZONES.map((zone) => ({ ...zone, origin: origin.url }));
      const gw = await startGateway(origin.url, {}, { log: { level }, zones }, logs);
      const forbidden = new Set<string>([...Object.values(KEYS), ...windows(THIRD_PARTY_TOKEN)]);
      let requests = 0;
      try {
        for (const [, prefix, spell] of SPELLINGS) {
          // The same token on a path no zone answers, too.
          const spelled = [...FILES.map((file) => spell(`${prefix}/${file}`)), spell(`${prefix}/seg.ts`)];
          const targets = spelled.map((one, index) =>
            index < FILES.length ? one.target : `/nozone${one.target}`,
          );
          for (const one of spelled)
            for (const token of one.tokens) for (const part of windows(token)) forbidden.add(part);
          const answers = await Promise.all(targets.map((target) => httpGet(gw.url, target)));
          for (const answer of answers) expect(answer.status).toBeGreaterThanOrEqual(200);
          requests += answers.length;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      } finally {
        await gw.close();
      }
      const leaks: string[] = [];
      for (const line of logs) {
        for (const part of forbidden) if (line.includes(part)) leaks.push(`${part} in ${line}`);
      }
      expect(leaks.slice(0, 5)).toEqual([]);

      // The sweep is only worth something where lines were written that show the targets.
      const parsed = logs.map((text) => JSON.parse(text) as Record<string, unknown>);
      const access = parsed.filter((line) => line.msg === 'access');
      const warned = parsed.filter((line) => line.level === 'warn' && typeof line.target === 'string');
      if (level === 'trace' || level === 'debug' || level === 'info') {
        expect(access).toHaveLength(requests);
        expect(access.every((line) => String(line.target).includes('REDACTED'))).toBe(true);
      }
      if (level !== 'error' && level !== 'fatal') {
        expect(warned.length).toBeGreaterThanOrEqual(SPELLINGS.length / 2);
      }
      if (level === 'trace' || level === 'debug') {
        expect(parsed.some((line) => line.msg === 'manifest URIs left without a token')).toBe(true);
      }
    });
  }
});
