// Writes test/vectors/akamai.json by running Akamai's own EdgeAuth for Node (npm akamai-edgeauth,
// the akamai/EdgeAuth-Token-Node library). Run: node test/vectors/generators/akamai.mjs
// streamgate's code is not involved: these are the reference's tokens.
import { readFileSync, writeFileSync } from 'node:fs';
import EdgeAuth from 'akamai-edgeauth';

const { version } = JSON.parse(
  readFileSync(new URL('../../../node_modules/akamai-edgeauth/package.json', import.meta.url), 'utf8'),
);

const KEY = '52a152a152a152a152a152a152a1';
const KEY2 = 'abcdef0123456789abcdef0123456789';
const END = 1_900_000_000;
const START = 1_800_000_000;

const cases = [
  { id: 'acl-root', options: {}, acl: '/*', valid: ['/vod/a.m3u8', '/x'], invalid: [] },
  {
    id: 'acl-directory',
    options: {},
    acl: '/vod/movie-1/*',
    valid: ['/vod/movie-1/master.m3u8', '/vod/movie-1/720p/seg-1.ts'],
    invalid: ['/vod/movie-10/master.m3u8', '/vod/master.m3u8'],
  },
  {
    id: 'acl-question-marks',
    options: {},
    acl: '/akamai/edgeauth/??',
    valid: ['/akamai/edgeauth/22'],
    invalid: ['/akamai/edgeauth/2', '/akamai/edgeauth/222'],
  },
  {
    id: 'acl-list',
    options: {},
    acl: ['/vod/a/*', '/live/*/chunks/*'],
    valid: ['/vod/a/x.ts', '/live/cam1/chunks/1.ts'],
    invalid: ['/vod/b/x.ts', '/live/cam1/index.m3u8'],
  },
  {
    id: 'acl-start-ip-id-data',
    options: { startTime: START, ip: '203.0.113.7', sessionId: 'session-42', payload: 'viewer-9' },
    acl: '/vod/*',
    valid: ['/vod/x.ts'],
    invalid: [],
  },
  { id: 'url-token', options: {}, url: '/vod/movie-1/master.m3u8', valid: ['/vod/movie-1/master.m3u8'], invalid: ['/vod/movie-1/other.m3u8'] },
  { id: 'url-token-salt', options: { salt: 'pepper' }, url: '/vod/a.ts', valid: ['/vod/a.ts'], invalid: [] },
  { id: 'acl-sha1', options: { algorithm: 'sha1' }, acl: '/vod/*', valid: ['/vod/a.ts'], invalid: [] },
  { id: 'acl-md5', options: { algorithm: 'md5' }, acl: '/vod/*', valid: ['/vod/a.ts'], invalid: [] },
  {
    id: 'url-escape-early-ipv6',
    options: { escapeEarly: true, ip: '2001:db8::1', sessionId: 'a b' },
    url: '/vod/movie 1/a.ts',
    valid: ['/vod/movie 1/a.ts'],
    invalid: [],
  },
  { id: 'hdnts', options: { tokenName: 'hdnts' }, acl: '/live/cam1/*', valid: ['/live/cam1/index.m3u8'], invalid: [] },
  { id: 'transition-key', options: { key: KEY2 }, acl: '/vod/*', valid: ['/vod/a.ts'], invalid: [] },
];

const vectors = cases.map((c) => {
  const options = { key: KEY, endTime: END, ...c.options };
  const auth = new EdgeAuth(options);
  const token = c.url === undefined ? auth.generateACLToken(c.acl) : auth.generateURLToken(c.url);
  const { key, ...rest } = options;
  return {
    id: c.id,
    generator: `akamai-edgeauth@${version} ${c.url === undefined ? 'generateACLToken' : 'generateURLToken'}`,
    key,
    options: rest,
    ...(c.url === undefined ? { acl: c.acl } : { url: c.url }),
    token,
    valid_for: c.valid,
    not_valid_for: c.invalid,
  };
});

writeFileSync(
  new URL('../akamai.json', import.meta.url),
  `${JSON.stringify(
    {
      description:
        'Akamai EdgeAuth tokens made by Akamai\'s own EdgeAuth for Node (npm akamai-edgeauth = akamai/EdgeAuth-Token-Node), by test/vectors/generators/akamai.cjs. valid_for / not_valid_for are the paths each token must or must not open (ACL wildcards: * any run, ? one character; a URL token opens its URL only), written by hand from the EdgeAuth README. streamgate produced none of these values.',
      transitionKeyPrimary: KEY,
      vectors,
    },
    null,
    2,
  )}\n`,
);
