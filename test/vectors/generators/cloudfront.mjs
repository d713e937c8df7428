// Writes test/vectors/cloudfront.json by running AWS's own signer (npm @aws-sdk/cloudfront-signer)
// with the throwaway key pairs in test/vectors/keys/. Run: node test/vectors/generators/cloudfront.mjs
// streamgate's code is not involved: these are the reference's URLs and cookies.
import { readFileSync, writeFileSync } from 'node:fs';
import { getSignedCookies, getSignedUrl } from '@aws-sdk/cloudfront-signer';

const key = (name) => readFileSync(new URL(`../keys/${name}`, import.meta.url), 'utf8');
const { version } = JSON.parse(
  readFileSync(new URL('../../../node_modules/@aws-sdk/cloudfront-signer/package.json', import.meta.url), 'utf8'),
);
const PAIRS = { KA1B2C3D4E5F6: 'cloudfront-a', KZ9Y8X7W6V5U4: 'cloudfront-b' };
const LESS = '2030-03-17T20:26:40Z'; // 1900000000
const GREATER = '2026-01-01T00:00:00Z'; // 1767225600
const BASE = 'https://d111111abcdef8.cloudfront.net';
const policy = (resource, extra = {}) =>
  JSON.stringify({
    Statement: [{ Resource: resource, Condition: { DateLessThan: { 'AWS:EpochTime': 1900000000 }, ...extra } }],
  });

const urls = [
  { id: 'canned-sha1', url: `${BASE}/vod/movie-1/master.m3u8`, keyPairId: 'KA1B2C3D4E5F6', dateLessThan: LESS },
  { id: 'canned-sha256', url: `${BASE}/vod/movie-1/master.m3u8`, keyPairId: 'KA1B2C3D4E5F6', dateLessThan: LESS, algorithm: 'SHA256' },
  { id: 'canned-query', url: `${BASE}/live/cam1/index.m3u8?nimblesessionid=42&x=1`, keyPairId: 'KA1B2C3D4E5F6', dateLessThan: LESS },
  { id: 'canned-second-key', url: `${BASE}/vod/a.ts`, keyPairId: 'KZ9Y8X7W6V5U4', dateLessThan: LESS },
  { id: 'custom-start', url: `${BASE}/vod/movie-1/master.m3u8`, keyPairId: 'KA1B2C3D4E5F6', dateLessThan: LESS, dateGreaterThan: GREATER },
  { id: 'custom-ip', url: `${BASE}/vod/movie-1/master.m3u8`, keyPairId: 'KA1B2C3D4E5F6', dateLessThan: LESS, ipAddress: '203.0.113.0/24' },
  {
    id: 'custom-wildcard',
    url: `${BASE}/vod/movie-1/master.m3u8`,
    keyPairId: 'KA1B2C3D4E5F6',
    policy: policy(`${BASE}/vod/movie-1/*`),
  },
  {
    id: 'custom-wildcard-sha256-question',
    url: `${BASE}/vod/movie-1/master.m3u8`,
    keyPairId: 'KA1B2C3D4E5F6',
    policy: policy(`http*://${BASE.slice(8)}/vod/movie-?/*`),
    algorithm: 'SHA256',
  },
];

const vectors = urls.map(({ id, ...input }) => ({
  id,
  kind: 'url',
  generator: `@aws-sdk/cloudfront-signer@${version} getSignedUrl`,
  input,
  signed: getSignedUrl({ ...input, privateKey: key(`${PAIRS[input.keyPairId]}.private.pem`) }),
}));
vectors.push({
  id: 'cookies-wildcard',
  kind: 'cookies',
  generator: `@aws-sdk/cloudfront-signer@${version} getSignedCookies`,
  input: { keyPairId: 'KA1B2C3D4E5F6', policy: policy(`${BASE}/vod/movie-1/*`) },
  signed: getSignedCookies({
    keyPairId: 'KA1B2C3D4E5F6',
    policy: policy(`${BASE}/vod/movie-1/*`),
    privateKey: key('cloudfront-a.private.pem'),
  }),
});
vectors.push({
  id: 'cookies-canned',
  kind: 'cookies',
  generator: `@aws-sdk/cloudfront-signer@${version} getSignedCookies`,
  input: { keyPairId: 'KA1B2C3D4E5F6', url: `${BASE}/vod/movie-1/master.m3u8`, dateLessThan: LESS },
  signed: getSignedCookies({
    keyPairId: 'KA1B2C3D4E5F6',
    url: `${BASE}/vod/movie-1/master.m3u8`,
    dateLessThan: LESS,
    privateKey: key('cloudfront-a.private.pem'),
  }),
});

writeFileSync(
  new URL('../cloudfront.json', import.meta.url),
  `${JSON.stringify(
    {
      description:
        "CloudFront signed URLs and cookies made by AWS's @aws-sdk/cloudfront-signer with the throwaway RSA key pairs in keys/ (cloudfront-a for KA1B2C3D4E5F6, cloudfront-b for KZ9Y8X7W6V5U4), by test/vectors/generators/cloudfront.mjs. streamgate produced none of these values.",
      keyPairs: Object.fromEntries(Object.entries(PAIRS).map(([id, name]) => [id, `keys/${name}.public.pem`])),
      vectors,
    },
    null,
    2,
  )}\n`,
);
