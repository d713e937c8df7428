/**
 * The tokenizer's shortcut for file names next to a playlist (`Tokenizer.forDirectory`) must decide
 * exactly what the per-URI tokenizer decides. Each playlist is rewritten twice — with the shortcut and
 * with a tokenizer that hides it — and the outputs must match: byte for byte for the MD5 schemes,
 * and for ectoken (a random IV per token) once every token is replaced by its decrypted parameters.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rewriteHls } from '../../src/manifest/hls/index.js';
import { isStaticManifest } from '../../src/manifest/index.js';
import type { Tokenizer } from '../../src/manifest/types.js';
import { decryptEctoken } from '../../src/tokens/ectoken.js';
import type { TokenStrategy } from '../../src/tokens/strategy.js';
import { checkRequest } from '../../src/tokens/check.js';
import { MAX_PATH_LENGTH } from '../../src/tokens/path.js';
import { signTarget } from '../../src/tokens/sign.js';
import type { Grant } from '../../src/tokens/verdict.js';
import {
  checkOptions,
  ECTOKEN_SECRET,
  LINK_TTL,
  NOW,
  runsFor,
  SECRET,
  signManifest,
  tokenizerFor,
  type Run,
} from './strategy-helpers.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/hls/', import.meta.url));
const CORPUS = fileURLToPath(new URL('./corpus/hls/', import.meta.url));
const PLAYLISTS = [
  ...readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.m3u8') && !f.includes('.expected.'))
    .map((f) => readFileSync(FIXTURES + f, 'utf8')),
  ...readdirSync(CORPUS)
    .filter((f) => f.endsWith('.m3u8'))
    .map((f) => readFileSync(CORPUS + f, 'utf8')),
];

/** The same decisions one URI at a time: the tokenizer without its shortcut. */
function perUri(tokenize: Tokenizer): Tokenizer {
  return (target) => tokenize(target);
}

/**
 * ectoken values replaced by what they decrypt to, so two runs with random IVs compare; ECDSA JWT
 * signatures (random per signature, RFC 7518 §3.4) replaced by a mark (the strategy suites verify them).
 */
function opened(text: string, run: Run): string {
  if (run.scheme.name === 'jwt')
    return text.replace(/(=eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.)[A-Za-z0-9_-]+/g, '$1SIG');
  if (run.scheme.params.expires !== undefined || run.scheme.name !== 'ectoken') return text;
  const param = run.scheme.params.token;
  return text.replace(
    new RegExp(`([?&]${param}=)([A-Za-z0-9_-]+)`, 'g'),
    (_m, head: string, token: string) => {
      const decrypted = decryptEctoken(token, [ECTOKEN_SECRET]);
      return `${head}{${decrypted.ok ? decrypted.plaintext : 'UNDECRYPTABLE'}}`;
    },
  );
}

/**
 * The viewer's grant: as the strategy suites sign it, or — for the MD5 schemes — a file token in forward
 * mode, whose coverage depends on the name and not on the directory alone.
 */
function signedFor(
  url: string,
  strategy: TokenStrategy,
  run: Run,
  fileToken: boolean,
): { rewriteBase: URL; grant: Grant } {
  if (!fileToken || !run.scheme.pathTokens) return signManifest(url, strategy, run);
  const signed = signTarget(url, {
    scheme: run.scheme,
    secret: SECRET,
    expires: NOW + LINK_TTL,
    ...(run.ip === undefined ? {} : { ip: run.ip }),
  });
  const verdict = checkRequest(signed, checkOptions(run, NOW)).verdict;
  expect(verdict.ok).toBe(true);
  return { rewriteBase: new URL(signed), grant: verdict as Grant };
}

function compare(text: string, url: string, strategy: TokenStrategy, run: Run, fileToken = false): void {
  const signed = signedFor(url, strategy, run, fileToken);
  const isStatic = isStaticManifest('hls', text);
  const fast = tokenizerFor(strategy, run, signed.grant, isStatic);
  expect(fast.forDirectory).toBeDefined();
  const withShortcut = rewriteHls(text, { manifestUrl: signed.rewriteBase, tokenize: fast });
  const without = rewriteHls(text, {
    manifestUrl: signed.rewriteBase,
    tokenize: perUri(tokenizerFor(strategy, run, signed.grant, isStatic)),
  });
  expect(opened(withShortcut.text, run)).toBe(opened(without.text, run));
  expect(withShortcut.rewritten).toBe(without.rewritten);
  expect(withShortcut.skipped).toEqual(without.skipped);
}

const URLS = [
  'https://gw.example/streams/show/index.m3u8',
  'https://gw.example/streams/sh%C3%B6w/a%20b/index.m3u8?x=1',
  'https://gw.example/index.m3u8',
];

describe('the file-name shortcut decides what the per-URI tokenizer decides', () => {
  describe.each(['forward', 'mint'] as const)('%s', (strategy) => {
    it.each(runsFor(strategy))('on every fixture and corpus playlist (%s)', (_label, run) => {
      for (const text of PLAYLISTS) for (const url of URLS) compare(text, url, strategy, run);
    });
  });

  it('on generated playlists of odd names, long names and names beside subdirectories', () => {
    const nameChar = fc.constantFrom(
      ...'abcXYZ019-._~!$&\'()*+,;=@:%/?#\\ {}"<>|^`',
      '..',
      '%2e',
      '%2F',
      '%41',
      'é',
      '\u00a0',
    );
    // Names whose path is one below, at and one above the 4,096-character limit for each base URL.
    const atLimit = URLS.flatMap((url) => {
      const room = MAX_PATH_LENGTH - new URL(url).pathname.lastIndexOf('/') - 1;
      return [room - 1, room, room + 1].map((length) => 'x'.repeat(length));
    });
    const name = fc.oneof(
      { weight: 5, arbitrary: fc.array(nameChar, { minLength: 1, maxLength: 12 }).map((p) => p.join('')) },
      { weight: 1, arbitrary: fc.constantFrom('.', '..', 'seg.ts', 'sub/seg.ts', 'index.m3u8', ...atLimit) },
    );
    const runs = [...runsFor('forward'), ...runsFor('mint')];
    fc.assert(
      fc.property(
        fc.array(name, { minLength: 1, maxLength: 6 }),
        fc.constantFrom(...URLS),
        fc.constantFrom<TokenStrategy>('forward', 'mint'),
        fc.constantFrom(...runs.map(([, run]) => run)),
        fc.boolean(),
        (names, url, strategy, run, fileToken) => {
          const text = ['#EXTM3U', '#EXT-X-TARGETDURATION:4', ...names.flatMap((n) => ['#EXTINF:4,', n]), ''];
          compare(text.join('\n'), url, strategy, run, fileToken);
        },
      ),
      { numRuns: 400 },
    );
  });
});
