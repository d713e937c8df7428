import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkRequest } from '../../src/tokens/check.js';
import { createEctokenScheme, type EctokenOptions } from '../../src/tokens/ectoken.js';

/*
 * The ec_* access rules, driven through checkRequest as the gateway calls it. Every expected verdict is
 * written by hand from the Edgecast / Azure documentation (Azure CDN token authentication, docs.edgecast.com "Restricting
 * Access by …" pages) and the README's "Token rules" (400 path, 403 token, 410 expired).
 * Tokens are made by the reference encryptor below, not by src/.
 */

const KEY = 'k8Hq2LmZ0pRt5vWx';
const BACKUP = 'Backup9Key7Text3';
const NOW = 1_700_000_000;
const LATER = NOW + 3600;

function referenceEncrypt(plaintext: string, keyText: string): string {
  const key = createHash('sha256').update(Buffer.from(keyText, 'utf8')).digest();
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  const body = Buffer.concat([cipher.update(Buffer.from(plaintext, 'utf8')), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
}

interface Request {
  /** Request target; `{t}` stands for the token. Default: `/v/a.ts?token={t}`. */
  readonly target?: string;
  readonly clientIp?: string;
  readonly referer?: string;
  readonly proto?: 'http' | 'https';
  readonly host?: string;
  /** What the country lookup returns; undefined = unknown. */
  readonly country?: string;
  readonly now?: number;
}

interface Row {
  readonly name: string;
  readonly plaintext: string;
  readonly request?: Request;
  readonly expect: { readonly status: 200 | 400 | 403 | 410; readonly reason?: string };
  /** The upstream query, byte for byte, when the row is about it. */
  readonly upstreamQuery?: string;
  readonly options?: EctokenOptions;
  readonly signKey?: string;
  readonly keys?: readonly string[];
}

const OK = { status: 200 } as const;
const RULE = { status: 403, reason: 'rule' } as const;
const WRONG_PATH = { status: 403, reason: 'invalid' } as const;
const EXPIRED = { status: 410, reason: 'expired' } as const;
const MALFORMED = { status: 403, reason: 'malformed' } as const;
const BAD_PATH = { status: 400, reason: 'path' } as const;

const exp = `ec_expire=${LATER}`;
const at = (path: string): Request => ({ target: `${path}?token={t}` });

const rows: Row[] = [
  // ec_expire: "Requests submitted after the expiration time are denied"; the README's "Token rules" make now == expiry expired.
  { name: 'ec_expire: one second before expiry → 200', plaintext: `ec_expire=${NOW + 1}`, expect: OK },
  { name: 'ec_expire: now == ec_expire → 410', plaintext: `ec_expire=${NOW}`, expect: EXPIRED },
  { name: 'ec_expire: one second after expiry → 410', plaintext: `ec_expire=${NOW - 1}`, expect: EXPIRED },
  { name: 'ec_expire: absent → no expiry', plaintext: 'ec_url_allow=/', expect: OK },
  { name: 'ec_expire: non-numeric → malformed', plaintext: 'ec_expire=tomorrow', expect: MALFORMED },
  { name: 'ec_expire: a fraction → malformed', plaintext: `ec_expire=${LATER}.5`, expect: MALFORMED },
  {
    // DISAGREES with src/tokens/ectoken.ts (verify: `Number(expireText) === 0 ? Infinity`): ec_expire is a
    // Unix time, and 0 (1970-01-01) is in the past, so the docs deny it. EC-JS only *omits* ec_expire when
    // asked for 0; nothing documents a written `ec_expire=0` as "never expires".
    name: 'ec_expire=0 is 1970, long past → 410',
    plaintext: 'ec_expire=0',
    expect: EXPIRED,
  },

  // ec_url_allow: the request path starts with a value (Azure's /pictures examples).
  {
    name: 'ec_url_allow=/pictures opens /pictures/city/strasbourg.png',
    plaintext: `${exp}&ec_url_allow=/pictures`,
    request: at('/pictures/city/strasbourg.png'),
    expect: OK,
  },
  {
    name: 'ec_url_allow=/pictures opens /pictures.png',
    plaintext: `${exp}&ec_url_allow=/pictures`,
    request: at('/pictures.png'),
    expect: OK,
  },
  {
    name: 'ec_url_allow=/pictures opens /picturesnew/city/paris.png',
    plaintext: `${exp}&ec_url_allow=/pictures`,
    request: at('/picturesnew/city/paris.png'),
    expect: OK,
  },
  {
    name: 'ec_url_allow=/pictures refuses /videos/a.mp4',
    plaintext: `${exp}&ec_url_allow=/pictures`,
    request: at('/videos/a.mp4'),
    expect: WRONG_PATH,
  },
  {
    name: 'ec_url_allow=/pictures/ opens its subtree /pictures/city/strasbourg.png',
    plaintext: `${exp}&ec_url_allow=/pictures/`,
    request: at('/pictures/city/strasbourg.png'),
    expect: OK,
  },
  {
    name: 'ec_url_allow=/pictures/ refuses /pictures.png',
    plaintext: `${exp}&ec_url_allow=/pictures/`,
    request: at('/pictures.png'),
    expect: WRONG_PATH,
  },
  {
    name: 'ec_url_allow=/pictures/city/strasbourg.png opens that asset',
    plaintext: `${exp}&ec_url_allow=/pictures/city/strasbourg.png`,
    request: at('/pictures/city/strasbourg.png'),
    expect: OK,
  },
  {
    name: 'ec_url_allow=/pictures/city/strasbourg.png refuses /pictures/city/paris.png',
    plaintext: `${exp}&ec_url_allow=/pictures/city/strasbourg.png`,
    request: at('/pictures/city/paris.png'),
    expect: WRONG_PATH,
  },
  {
    name: 'ec_url_allow=/ opens every path',
    plaintext: `${exp}&ec_url_allow=/`,
    request: at('/any/depth/of/path/seg-00001.m4s'),
    expect: OK,
  },
  {
    name: 'ec_url_allow comma list /audio/,/video/ opens /video/seg1.ts',
    plaintext: `${exp}&ec_url_allow=/audio/,/video/`,
    request: at('/video/seg1.ts'),
    expect: OK,
  },
  {
    name: 'ec_url_allow comma list /audio/,/video/ refuses /images/poster.png',
    plaintext: `${exp}&ec_url_allow=/audio/,/video/`,
    request: at('/images/poster.png'),
    expect: WRONG_PATH,
  },
  {
    name: 'ec_url_allow ignores the query string of the request',
    plaintext: `${exp}&ec_url_allow=/pictures/`,
    request: { target: '/pictures/a.png?w=/other/&token={t}' },
    expect: OK,
  },
  {
    name: 'ec_url_allow is case-sensitive: /Pictures refuses /pictures/a.png',
    plaintext: `${exp}&ec_url_allow=/Pictures`,
    request: at('/pictures/a.png'),
    expect: WRONG_PATH,
  },
  {
    name: 'Token Auth Ignore URL Case: /Pictures opens /pictures/a.png',
    plaintext: `${exp}&ec_url_allow=/Pictures`,
    request: at('/pictures/a.png'),
    options: { ignoreUrlCase: true },
    expect: OK,
  },
  {
    name: 'Token Auth Ignore URL Case: /Pictures opens /PICTURES/A.PNG',
    plaintext: `${exp}&ec_url_allow=/Pictures`,
    request: at('/PICTURES/A.PNG'),
    options: { ignoreUrlCase: true },
    expect: OK,
  },
  {
    name: 'Token Auth Ignore URL Case still refuses another path',
    plaintext: `${exp}&ec_url_allow=/Pictures`,
    request: at('/videos/a.mp4'),
    options: { ignoreUrlCase: true },
    expect: WRONG_PATH,
  },
  {
    name: 'canonicalisation first (README "Token rules"): /pictures/../secret/x.png → 400 even under /pictures',
    plaintext: `${exp}&ec_url_allow=/pictures`,
    request: at('/pictures/../secret/x.png'),
    expect: BAD_PATH,
  },
  {
    name: 'canonicalisation first (README "Token rules"): /pictures/%2e%2e/secret/x.png → 400',
    plaintext: `${exp}&ec_url_allow=/pictures`,
    request: at('/pictures/%2e%2e/secret/x.png'),
    expect: BAD_PATH,
  },
  {
    name: 'canonicalisation first (README "Token rules"): an encoded slash /pictures%2F../x → 400',
    plaintext: `${exp}&ec_url_allow=/pictures`,
    request: at('/pictures%2F..%2Fsecret.png'),
    expect: BAD_PATH,
  },

  // ec_country_allow / ec_country_deny: ISO 3166 codes; allow wins over deny (Azure CDN documentation).
  {
    name: 'ec_country_allow=US: a US viewer → 200',
    plaintext: `${exp}&ec_country_allow=US`,
    request: { country: 'US' },
    expect: OK,
  },
  {
    name: 'ec_country_allow=US,FR: a FR viewer → 200',
    plaintext: `${exp}&ec_country_allow=US,FR`,
    request: { country: 'FR' },
    expect: OK,
  },
  {
    name: 'ec_country_allow=US: a DE viewer → 403',
    plaintext: `${exp}&ec_country_allow=US`,
    request: { country: 'DE' },
    expect: RULE,
  },
  {
    name: 'ec_country_allow=US: unknown country → 403',
    plaintext: `${exp}&ec_country_allow=US`,
    request: { country: undefined },
    expect: RULE,
  },
  {
    name: 'ec_country_deny=US,CA: a CA viewer → 403',
    plaintext: `${exp}&ec_country_deny=US,CA`,
    request: { country: 'CA' },
    expect: RULE,
  },
  {
    name: 'ec_country_deny=US,CA: a DE viewer → 200',
    plaintext: `${exp}&ec_country_deny=US,CA`,
    request: { country: 'DE' },
    expect: OK,
  },
  {
    name: 'ec_country_deny=US: unknown country → 200',
    plaintext: `${exp}&ec_country_deny=US`,
    request: { country: undefined },
    expect: OK,
  },
  {
    name: 'US in both ec_country_allow and ec_country_deny: allow wins → 200',
    plaintext: `${exp}&ec_country_allow=US&ec_country_deny=US`,
    request: { country: 'US' },
    expect: OK,
  },
  {
    name: 'ec_country_allow=US with ec_country_deny=FR: a DE viewer is outside the allow list → 403',
    plaintext: `${exp}&ec_country_allow=US&ec_country_deny=FR`,
    request: { country: 'DE' },
    expect: RULE,
  },

  // ec_ref_allow / ec_ref_deny (docs.edgecast.com Restricting_Access_by_Referrer).
  {
    name: 'ec_ref_allow=example.com: Referer https://example.com/page → 200',
    plaintext: `${exp}&ec_ref_allow=example.com`,
    request: { referer: 'https://example.com/page' },
    expect: OK,
  },
  {
    name: 'ec_ref_allow=example.com: Referer https://other.org/page → 403',
    plaintext: `${exp}&ec_ref_allow=example.com`,
    request: { referer: 'https://other.org/page' },
    expect: RULE,
  },
  {
    name: 'ec_ref_allow=example.com: the host must be whole (https://example.com.evil.org/ → 403)',
    plaintext: `${exp}&ec_ref_allow=example.com`,
    request: { referer: 'https://example.com.evil.org/' },
    expect: RULE,
  },
  {
    name: 'ec_ref_allow=example.com: https://example.community/ is another host → 403',
    plaintext: `${exp}&ec_ref_allow=example.com`,
    request: { referer: 'https://example.community/' },
    expect: RULE,
  },
  {
    name: 'ec_ref_allow=example.com: userinfo does not make a host (https://example.com@evil.org/ → 403)',
    plaintext: `${exp}&ec_ref_allow=example.com`,
    request: { referer: 'https://example.com@evil.org/' },
    expect: RULE,
  },
  {
    name: 'ec_ref_allow=*.example.com: https://x.example.com.evil.org/ → 403',
    plaintext: `${exp}&ec_ref_allow=*.example.com`,
    request: { referer: 'https://x.example.com.evil.org/' },
    expect: RULE,
  },
  {
    name: 'ec_ref_allow: the protocol of the Referer is ignored (http://example.com/ → 200)',
    plaintext: `${exp}&ec_ref_allow=example.com`,
    request: { referer: 'http://example.com/' },
    expect: OK,
  },
  {
    name: 'ec_ref_allow=example.com/videos: Referer http://example.com/videos/watch?id=1 → 200',
    plaintext: `${exp}&ec_ref_allow=example.com/videos`,
    request: { referer: 'http://example.com/videos/watch?id=1' },
    expect: OK,
  },
  {
    name: 'ec_ref_allow=example.com/videos: Referer https://example.com/music/ → 403',
    plaintext: `${exp}&ec_ref_allow=example.com/videos`,
    request: { referer: 'https://example.com/music/' },
    expect: RULE,
  },
  {
    name: 'ec_ref_allow=*.example.com: Referer https://a.example.com/ → 200',
    plaintext: `${exp}&ec_ref_allow=*.example.com`,
    request: { referer: 'https://a.example.com/' },
    expect: OK,
  },
  {
    name: 'ec_ref_allow=*.example.com: Referer https://a.b.example.com/x → 200',
    plaintext: `${exp}&ec_ref_allow=*.example.com`,
    request: { referer: 'https://a.b.example.com/x' },
    expect: OK,
  },
  {
    name: 'ec_ref_allow=*.example.com: the wildcard does not cross a / (https://evil.org/.example.com/) → 403',
    plaintext: `${exp}&ec_ref_allow=*.example.com`,
    request: { referer: 'https://evil.org/.example.com/' },
    expect: RULE,
  },
  {
    name: 'ec_ref_allow=*.example.com: https://evilexample.com/ has no .example.com → 403',
    plaintext: `${exp}&ec_ref_allow=*.example.com`,
    request: { referer: 'https://evilexample.com/' },
    expect: RULE,
  },
  {
    name: 'ec_ref_allow=example.com: no Referer → 403',
    plaintext: `${exp}&ec_ref_allow=example.com`,
    request: { referer: undefined },
    expect: RULE,
  },
  {
    name: 'ec_ref_allow=example.com: an empty Referer → 403',
    plaintext: `${exp}&ec_ref_allow=example.com`,
    request: { referer: '' },
    expect: RULE,
  },
  {
    name: 'ec_ref_allow=example.com,missing: no Referer → 200',
    plaintext: `${exp}&ec_ref_allow=example.com,missing`,
    request: { referer: undefined },
    expect: OK,
  },
  {
    name: 'ec_ref_allow=example.com,Missing (as the docs spell it): an empty Referer → 200',
    plaintext: `${exp}&ec_ref_allow=example.com,Missing`,
    request: { referer: '' },
    expect: OK,
  },
  {
    name: 'ec_ref_allow=example.com, (trailing comma = blank entry): no Referer → 200',
    plaintext: `${exp}&ec_ref_allow=example.com,`,
    request: { referer: undefined },
    expect: OK,
  },
  {
    name: 'ec_ref_allow=example.com, (trailing comma): a present foreign Referer is still refused → 403',
    plaintext: `${exp}&ec_ref_allow=example.com,`,
    request: { referer: 'https://other.org/' },
    expect: RULE,
  },
  {
    name: 'ec_ref_allow: an entry preceded by a space is ignored (other.org, example.com) → 403',
    plaintext: `${exp}&ec_ref_allow=other.org, example.com`,
    request: { referer: 'https://example.com/' },
    expect: RULE,
  },
  {
    name: 'ec_ref_deny=evil.org: Referer https://evil.org/x → 403',
    plaintext: `${exp}&ec_ref_deny=evil.org`,
    request: { referer: 'https://evil.org/x' },
    expect: RULE,
  },
  {
    name: 'ec_ref_deny=evil.org: Referer https://good.org/ → 200',
    plaintext: `${exp}&ec_ref_deny=evil.org`,
    request: { referer: 'https://good.org/' },
    expect: OK,
  },
  {
    name: 'ec_ref_deny=evil.org: no Referer passes a deny list → 200',
    plaintext: `${exp}&ec_ref_deny=evil.org`,
    request: { referer: undefined },
    expect: OK,
  },
  {
    name: 'ec_ref_deny=missing: no Referer → 403',
    plaintext: `${exp}&ec_ref_deny=missing`,
    request: { referer: undefined },
    expect: RULE,
  },
  {
    name: 'ec_ref_deny=evil.org, (blank entry): an empty Referer → 403',
    plaintext: `${exp}&ec_ref_deny=evil.org,`,
    request: { referer: '' },
    expect: RULE,
  },
  {
    name: 'ec_ref_deny=*.example.com: Referer https://cdn.example.com/ → 403',
    plaintext: `${exp}&ec_ref_deny=*.example.com`,
    request: { referer: 'https://cdn.example.com/' },
    expect: RULE,
  },
  {
    name: 'referrer in ec_ref_allow and (by wildcard) in ec_ref_deny: allow wins → 200',
    plaintext: `${exp}&ec_ref_allow=a.example.com&ec_ref_deny=*.example.com`,
    request: { referer: 'https://a.example.com/' },
    expect: OK,
  },
  {
    name: 'with both lists, a referrer only in ec_ref_deny → 403',
    plaintext: `${exp}&ec_ref_allow=a.example.com&ec_ref_deny=*.example.com`,
    request: { referer: 'https://b.example.com/' },
    expect: RULE,
  },
  {
    // RFC 3986 §3.2.2: the host is case-insensitive.
    name: 'ec_ref_allow=example.com: Referer host in capitals https://EXAMPLE.COM/ → 200',
    plaintext: `${exp}&ec_ref_allow=example.com`,
    request: { referer: 'https://EXAMPLE.COM/' },
    expect: OK,
  },

  // ec_proto_allow / ec_proto_deny: http, https, http,https; allow wins over deny (Azure CDN documentation).
  {
    name: 'ec_proto_allow=https: an https request → 200',
    plaintext: `${exp}&ec_proto_allow=https`,
    request: { proto: 'https' },
    expect: OK,
  },
  {
    name: 'ec_proto_allow=https: an http request → 403',
    plaintext: `${exp}&ec_proto_allow=https`,
    request: { proto: 'http' },
    expect: RULE,
  },
  {
    name: 'ec_proto_allow=http,https: an http request → 200',
    plaintext: `${exp}&ec_proto_allow=http,https`,
    request: { proto: 'http' },
    expect: OK,
  },
  {
    name: 'ec_proto_deny=http: an http request → 403',
    plaintext: `${exp}&ec_proto_deny=http`,
    request: { proto: 'http' },
    expect: RULE,
  },
  {
    name: 'ec_proto_deny=http: an https request → 200',
    plaintext: `${exp}&ec_proto_deny=http`,
    request: { proto: 'https' },
    expect: OK,
  },
  {
    name: 'http in both ec_proto_allow and ec_proto_deny: allow wins → 200',
    plaintext: `${exp}&ec_proto_allow=http&ec_proto_deny=http`,
    request: { proto: 'http' },
    expect: OK,
  },

  // ec_clientip: an IPv4/IPv6 address or CIDR range (docs: 11.22.33.0/22 allows 11.22.32.1–11.22.35.254).
  {
    name: 'ec_clientip=1.2.3.4: client 1.2.3.4 → 200',
    plaintext: `${exp}&ec_clientip=1.2.3.4`,
    request: { clientIp: '1.2.3.4' },
    expect: OK,
  },
  {
    name: 'ec_clientip=1.2.3.4: client 1.2.3.5 → 403',
    plaintext: `${exp}&ec_clientip=1.2.3.4`,
    request: { clientIp: '1.2.3.5' },
    expect: RULE,
  },
  {
    name: 'ec_clientip=11.22.33.0/22: client 11.22.32.1 → 200',
    plaintext: `${exp}&ec_clientip=11.22.33.0/22`,
    request: { clientIp: '11.22.32.1' },
    expect: OK,
  },
  {
    name: 'ec_clientip=11.22.33.0/22: client 11.22.35.254 → 200',
    plaintext: `${exp}&ec_clientip=11.22.33.0/22`,
    request: { clientIp: '11.22.35.254' },
    expect: OK,
  },
  {
    name: 'ec_clientip=11.22.33.0/22: client 11.22.36.1 → 403',
    plaintext: `${exp}&ec_clientip=11.22.33.0/22`,
    request: { clientIp: '11.22.36.1' },
    expect: RULE,
  },
  {
    name: 'ec_clientip=11.22.33.0/22: client 11.22.31.255 → 403',
    plaintext: `${exp}&ec_clientip=11.22.33.0/22`,
    request: { clientIp: '11.22.31.255' },
    expect: RULE,
  },
  {
    name: 'ec_clientip=2001:db8::1: client 2001:0DB8:0:0::1 (same address, other spelling) → 200',
    plaintext: `${exp}&ec_clientip=2001:db8::1`,
    request: { clientIp: '2001:0DB8:0:0::1' },
    expect: OK,
  },
  {
    name: 'ec_clientip=2001:db8::/32: client 2001:db8:ffff::5 → 200',
    plaintext: `${exp}&ec_clientip=2001:db8::/32`,
    request: { clientIp: '2001:db8:ffff::5' },
    expect: OK,
  },
  {
    name: 'ec_clientip=2001:db8::/32: client 2001:db9::1 → 403',
    plaintext: `${exp}&ec_clientip=2001:db8::/32`,
    request: { clientIp: '2001:db9::1' },
    expect: RULE,
  },
  {
    name: 'ec_clientip=1.2.3.4: an IPv4-mapped IPv6 client ::ffff:1.2.3.4 → 200',
    plaintext: `${exp}&ec_clientip=1.2.3.4`,
    request: { clientIp: '::ffff:1.2.3.4' },
    expect: OK,
  },
  {
    name: 'ec_clientip=1.2.3.0/24: an IPv6 client 2001:db8::1 → 403',
    plaintext: `${exp}&ec_clientip=1.2.3.0/24`,
    request: { clientIp: '2001:db8::1' },
    expect: RULE,
  },
  {
    name: 'ec_clientip=1.2.3.999 (not an address) → 403',
    plaintext: `${exp}&ec_clientip=1.2.3.999`,
    request: { clientIp: '1.2.3.4' },
    expect: RULE,
  },
  {
    name: 'ec_clientip=1.2.3.4/33 (prefix too long) → 403',
    plaintext: `${exp}&ec_clientip=1.2.3.4/33`,
    request: { clientIp: '1.2.3.4' },
    expect: RULE,
  },
  {
    name: 'ec_clientip=1.2.3.4 and no client address known → 403',
    plaintext: `${exp}&ec_clientip=1.2.3.4`,
    request: { clientIp: undefined },
    expect: RULE,
  },

  // ec_host_allow / ec_host_deny (docs.edgecast.com Restricting_Access_by_Host).
  {
    name: 'ec_host_allow=cdn.example.com: Host cdn.example.com → 200',
    plaintext: `${exp}&ec_host_allow=cdn.example.com`,
    request: { host: 'cdn.example.com' },
    expect: OK,
  },
  {
    name: 'ec_host_allow=cdn.example.com: Host other.example.com → 403',
    plaintext: `${exp}&ec_host_allow=cdn.example.com`,
    request: { host: 'other.example.com' },
    expect: RULE,
  },
  {
    name: 'ec_host_allow=*.example.com: Host en.secure.example.com (any depth) → 200',
    plaintext: `${exp}&ec_host_allow=*.example.com`,
    request: { host: 'en.secure.example.com' },
    expect: OK,
  },
  {
    name: 'ec_host_allow=*.example.com: Host example.com itself → 403',
    plaintext: `${exp}&ec_host_allow=*.example.com`,
    request: { host: 'example.com' },
    expect: RULE,
  },
  {
    name: 'ec_host_deny=*.example.com: Host video.example.com → 403',
    plaintext: `${exp}&ec_host_deny=*.example.com`,
    request: { host: 'video.example.com' },
    expect: RULE,
  },
  {
    name: 'ec_host_deny=*.example.com: Host example.com → 200',
    plaintext: `${exp}&ec_host_deny=*.example.com`,
    request: { host: 'example.com' },
    expect: OK,
  },
  {
    name: 'host in ec_host_allow and (by wildcard) in ec_host_deny: allow wins → 200',
    plaintext: `${exp}&ec_host_allow=a.example.com&ec_host_deny=*.example.com`,
    request: { host: 'a.example.com' },
    expect: OK,
  },

  // The plaintext itself.
  {
    name: 'a known ec_ parameter given twice (ec_country_allow) → malformed',
    plaintext: `${exp}&ec_country_allow=US&ec_country_allow=FR`,
    request: { country: 'US' },
    expect: MALFORMED,
  },
  {
    name: 'ec_expire given twice → malformed',
    plaintext: `${exp}&ec_expire=${LATER + 60}`,
    expect: MALFORMED,
  },
  {
    name: 'unknown parameters (ec_secure, a random r=, a bare flag) are ignored → 200',
    plaintext: `${exp}&ec_secure=033&r=x7Yq&flag`,
    expect: OK,
  },
  {
    name: 'every rule satisfied at once → 200',
    plaintext:
      `${exp}&ec_country_allow=US&ec_url_allow=/v/&ec_host_allow=*.example.com&ec_ref_allow=*.example.com` +
      '&ec_clientip=203.0.113.0/24&ec_proto_allow=https',
    request: {
      country: 'US',
      host: 'cdn.example.com',
      referer: 'https://www.example.com/player',
      clientIp: '203.0.113.7',
      proto: 'https',
    },
    expect: OK,
  },

  // Where the token travels: `token` (renamable, "Token Auth Parameter") or the whole query (Azure CDN documentation).
  {
    name: 'token in the token parameter, other pairs kept byte for byte',
    plaintext: exp,
    request: { target: '/v/a.ts?x=%2F&token={t}&y=a+b&z' },
    upstreamQuery: 'x=%2F&y=a+b&z',
    expect: OK,
  },
  {
    name: 'token in a renamed parameter (param: auth)',
    plaintext: exp,
    request: { target: '/v/a.ts?auth={t}&n=1' },
    options: { param: 'auth' },
    upstreamQuery: 'n=1',
    expect: OK,
  },
  {
    name: 'renamed parameter (param: auth): a token under the old name token= is not looked at → missing',
    plaintext: exp,
    request: { target: '/v/a.ts?token={t}' },
    options: { param: 'auth' },
    expect: { status: 403, reason: 'missing' },
  },
  {
    name: 'the bare query is the token: /file.mp4?<token>',
    plaintext: exp,
    request: { target: '/file.mp4?{t}' },
    upstreamQuery: '',
    expect: OK,
  },
  {
    name: 'a bare token between other pairs; they are kept byte for byte and in order',
    plaintext: exp,
    request: { target: '/file.mp4?a=1&b=%20x+y&{t}&c&d=' },
    upstreamQuery: 'a=1&b=%20x+y&c&d=',
    expect: OK,
  },
  {
    name: 'a bare token with a renamed parameter still opens',
    plaintext: exp,
    request: { target: '/file.mp4?{t}' },
    options: { param: 'auth' },
    expect: OK,
  },
  {
    name: 'token parameter given twice → malformed',
    plaintext: exp,
    request: { target: '/v/a.ts?token={t}&token={t}' },
    expect: MALFORMED,
  },
  {
    // The named parameter is the token; another long pair is the origin's own and passes through.
    name: 'a token parameter and a bare-looking pair: the parameter is judged, the pair forwarded',
    plaintext: exp,
    request: { target: '/v/a.ts?sessionabcdefghijklmnopqrstuvwxyz0123&token={t}' },
    upstreamQuery: 'sessionabcdefghijklmnopqrstuvwxyz0123',
    expect: OK,
  },
  {
    name: 'two bare tokens → malformed',
    plaintext: exp,
    request: { target: '/v/a.ts?{t}&{t}' },
    expect: MALFORMED,
  },
  {
    name: 'an empty token parameter → malformed',
    plaintext: exp,
    request: { target: '/v/a.ts?token=' },
    expect: MALFORMED,
  },
  {
    name: 'no token at all → 403 missing',
    plaintext: exp,
    request: { target: '/v/a.ts?a=1' },
    upstreamQuery: 'a=1',
    expect: { status: 403, reason: 'missing' },
  },

  // Keys and integrity (ectoken: wrong key, backup key, 512 characters).
  {
    name: 'a token under the backup key opens with [primary, backup] → 200',
    plaintext: exp,
    signKey: BACKUP,
    keys: [KEY, BACKUP],
    expect: OK,
  },
  {
    name: 'a token under the backup key with only the primary configured → 403 invalid',
    plaintext: exp,
    signKey: BACKUP,
    keys: [KEY],
    expect: { status: 403, reason: 'invalid' },
  },
  {
    name: 'a forged (wrong key) token that is also expired → 403, not 410 (signature first, expiry second: README "Token rules")',
    plaintext: `ec_expire=${NOW - 10}`,
    signKey: 'SomeOtherKey1',
    expect: { status: 403, reason: 'invalid' },
  },
  {
    name: 'a token over 512 characters → malformed',
    plaintext: `${exp}&r=${'a'.repeat(360)}`,
    expect: MALFORMED,
  },
];

function run(row: Row) {
  const token = referenceEncrypt(row.plaintext, row.signKey ?? KEY);
  const request = row.request ?? {};
  const target = (request.target ?? '/v/a.ts?token={t}').replaceAll('{t}', token);
  const hasCountry = row.request !== undefined && 'country' in row.request;
  return checkRequest(target, {
    scheme: createEctokenScheme(row.options),
    keys: row.keys ?? [KEY],
    now: request.now ?? NOW,
    clientIp: request.clientIp,
    facts: {
      referer: request.referer,
      proto: request.proto ?? 'https',
      host: request.host ?? 'cdn.example.com',
      country: () => (hasCountry ? request.country : 'US'),
    },
  });
}

describe('ectoken access rules through checkRequest (one good and one bad request per rule)', () => {
  it('the table has at least 40 rows and names are unique', () => {
    expect(rows.length).toBeGreaterThanOrEqual(40);
    expect(new Set(rows.map((row) => row.name)).size).toBe(rows.length);
  });

  it('the table has a 200 and a denial for every ec_* rule', () => {
    for (const rule of [
      'ec_expire',
      'ec_url_allow',
      'ec_country_allow',
      'ec_country_deny',
      'ec_ref_allow',
      'ec_ref_deny',
      'ec_proto_allow',
      'ec_proto_deny',
      'ec_clientip',
      'ec_host_allow',
      'ec_host_deny',
    ]) {
      const about = rows.filter((row) => row.plaintext.includes(`${rule}=`) && row.expect.status !== 200);
      const good = rows.filter((row) => row.plaintext.includes(`${rule}=`) && row.expect.status === 200);
      expect(about.length, rule).toBeGreaterThan(0);
      expect(good.length, rule).toBeGreaterThan(0);
    }
  });

  it.each(rows.map((row) => [row.name, row] as const))('%s', (_name, row) => {
    const checked = run(row);
    if (row.expect.status === 200) {
      expect(checked.verdict).toMatchObject({ ok: true, status: 200 });
    } else {
      expect(checked.verdict).toMatchObject({
        ok: false,
        status: row.expect.status,
        reason: row.expect.reason,
      });
    }
    if (row.upstreamQuery !== undefined) expect(checked.upstreamQuery).toBe(row.upstreamQuery);
  });
});

describe('the country lookup is lazy', () => {
  it('a token without country rules never asks for the country', () => {
    let asked = 0;
    const token = referenceEncrypt(`${exp}&ec_proto_allow=https`, KEY);
    const { verdict } = checkRequest(`/v/a.ts?token=${token}`, {
      scheme: createEctokenScheme(),
      keys: [KEY],
      now: NOW,
      facts: {
        proto: 'https',
        country: () => {
          asked += 1;
          return 'US';
        },
      },
    });
    expect(verdict).toMatchObject({ ok: true });
    expect(asked).toBe(0);
  });
});

describe('a grant carries what ec_url_allow opens and when it ends', () => {
  it('expires is ec_expire; prefixes are the ec_url_allow list', () => {
    const token = referenceEncrypt(`${exp}&ec_url_allow=/audio/,/video/`, KEY);
    const { verdict } = checkRequest(`/video/a.ts?token=${token}`, {
      scheme: createEctokenScheme(),
      keys: [KEY],
      now: NOW,
    });
    expect(verdict).toMatchObject({ ok: true, expires: LATER, prefixes: ['/audio/', '/video/'] });
  });
});
