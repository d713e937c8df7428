// Writes test/vectors/jwt.json and the JWT keys in test/vectors/keys/ with jose (npm jose, the JOSE
// reference implementation for JavaScript). Run: node test/vectors/generators/jwt.mjs
// streamgate's code is not involved: these are jose's tokens.
import { readFileSync, writeFileSync } from 'node:fs';
import { exportJWK, exportPKCS8, exportSPKI, generateKeyPair, SignJWT } from 'jose';

const keys = new URL('../keys/', import.meta.url);
const { version } = JSON.parse(readFileSync(new URL('../../../node_modules/jose/package.json', import.meta.url), 'utf8'));
const SECRET = 'jwt-suite-shared-secret-of-32-bytes!';
const pairs = {};
const jwks = { keys: [] };
for (const [kid, alg] of [
  ['rsa-1', 'RS256'],
  ['p256-1', 'ES256'],
  ['p384-1', 'ES384'],
]) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  pairs[kid] = { alg, publicKey, privateKey };
  writeFileSync(new URL(`jwt-${kid}.private.pem`, keys), await exportPKCS8(privateKey));
  writeFileSync(new URL(`jwt-${kid}.public.pem`, keys), await exportSPKI(publicKey));
  jwks.keys.push({ ...(await exportJWK(publicKey)), kid, alg, use: 'sig' });
}
writeFileSync(new URL('jwt.jwks.json', keys), `${JSON.stringify(jwks, null, 2)}\n`);

const EXP = 1_900_000_000;
const cases = [
  { id: 'hs256-prefix', alg: 'HS256', claims: { prefix: '/vod/movie-1/', sub: 'movie-1' }, valid: ['/vod/movie-1/master.m3u8', '/vod/movie-1/720p/a.ts'], invalid: ['/vod/movie-10/a.ts'] },
  { id: 'hs256-path', alg: 'HS256', claims: { path: '/vod/a.m3u8' }, valid: ['/vod/a.m3u8'], invalid: ['/vod/b.m3u8'] },
  { id: 'rs256-prefix-kid', alg: 'RS256', kid: 'rsa-1', claims: { prefix: '/live/' }, valid: ['/live/cam1/index.m3u8'], invalid: ['/vod/a.ts'] },
  { id: 'es256-nbf-ip', alg: 'ES256', kid: 'p256-1', claims: { prefix: '/live/', nbf: 1_800_000_000, ip: ['203.0.113.0/24', '2001:db8::/32'] }, valid: ['/live/a.ts'], invalid: [] },
  { id: 'es384-country-referrer', alg: 'ES384', kid: 'p384-1', claims: { prefix: '/', country_allow: ['US', 'CA'], referrer_allow: ['*.example.com'] }, valid: ['/any/thing.ts'], invalid: [] },
];
const vectors = [];
for (const c of cases) {
  const key = c.alg === 'HS256' ? Buffer.from(SECRET) : pairs[c.kid].privateKey;
  const jwt = await new SignJWT(c.claims)
    .setProtectedHeader({ alg: c.alg, ...(c.kid === undefined ? {} : { kid: c.kid }) })
    .setExpirationTime(EXP)
    .setIssuedAt(1_700_000_000)
    .sign(key);
  vectors.push({ id: c.id, generator: `jose@${version} SignJWT`, alg: c.alg, kid: c.kid, claims: { ...c.claims, exp: EXP }, token: jwt, valid_for: c.valid, not_valid_for: c.invalid });
}
writeFileSync(
  new URL('../jwt.json', import.meta.url),
  `${JSON.stringify(
    {
      description:
        'JWT playback tokens made by jose (SignJWT) with the shared secret below (HS256) and the key pairs it generated in keys/ (jwt-*.pem, jwt.jwks.json), by test/vectors/generators/jwt.mjs. valid_for / not_valid_for follow the path and prefix claims. streamgate produced none of these values.',
      secret: SECRET,
      vectors,
    },
    null,
    2,
  )}\n`,
);
