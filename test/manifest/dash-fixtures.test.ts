import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DASH_URI_SITES, rewriteDash } from '../../src/manifest/dash/index.js';
import type { UriTarget } from '../../src/manifest/types.js';
import {
  MANIFEST_URL,
  maskUris,
  pathFormTokenizer,
  normalisedTree,
  stripToken,
  templateUses,
  testTokenizer,
} from './dash-helpers.js';

/** ISO/IEC 23009-1 §5.3.1.2, §5.15: a dynamic MPD, or an MPD Patch (which exists only for one). */
const SESSION_TEMPLATES = /<(?:[\w.-]+:)?(?:MPD\b[^>]*\btype\s*=\s*["']dynamic["']|Patch\b)/;

const DIR = fileURLToPath(new URL('../../fixtures/dash/', import.meta.url));
const INPUT = /^(?<name>.+)\.(?<ext>mpd|mpp)$/;
const EXPECTED = /^(?<name>.+)\.expected\.(?<ext>mpd|mpp)$/;
const URL_PARAM = { params: [['tok', 'U'] as const, ['exp', '9'] as const] };

const files = readdirSync(DIR).sort();
const inputs = files.filter((f) => INPUT.test(f) && !EXPECTED.test(f));

function expectedName(input: string): string {
  const { name, ext } = INPUT.exec(input)!.groups!;
  return `${name}.expected.${ext}`;
}

function read(name: string): string {
  return readFileSync(DIR + name, 'utf8');
}

/** What `*.location.mpd` fixtures are given as the MPD's own URL (src/manifest/dash/location.ts). */
const LOCATION = 'https://gw.example/live/ch1/manifest.mpd?cam=1&q=a%20b';
const INSERTED = /\n[ \t]*<Location>https:\/\/gw\.example\/live\/ch1\/manifest\.mpd\?[^<]*<\/Location>/;

/**
 * Fixtures named `*.urlparam.mpd` are rewritten in Annex I mode (one UrlQueryInfo per AdaptationSet),
 * `*.pathform.mpd` with grants in path form where the strategies give them (`pathFormTokenizer`),
 * `*.location.mpd` with a Location to insert into a dynamic MPD that names none.
 */
function rewrite(input: string, seen?: UriTarget[]) {
  const tokenize = input.includes('.pathform.')
    ? pathFormTokenizer('gw.example', seen)
    : testTokenizer('gw.example', seen);
  return rewriteDash(read(input), {
    manifestUrl: MANIFEST_URL,
    tokenize,
    ...(input.includes('.urlparam.') ? { urlParam: URL_PARAM } : {}),
    ...(input.includes('.location.') ? { insertLocation: LOCATION } : {}),
  });
}

/** The output without the Location a `.location.` fixture was given: what the URI checks compare. */
function withoutInserted(input: string, output: string): string {
  if (!input.includes('.location.')) return output;
  expect(output.match(new RegExp(INSERTED, 'g'))).toHaveLength(1);
  return output.replace(INSERTED, '');
}

describe('DASH fixtures: hand-written input/expected pairs', () => {
  it('every fixture has an expected file and every expected file has an input (no orphans)', () => {
    const expected = files.filter((f) => EXPECTED.test(f));
    const stray = files.filter((f) => !INPUT.test(f));
    expect(stray).toEqual([]);
    expect(inputs.length).toBeGreaterThan(0);
    expect(inputs.map(expectedName).sort()).toEqual(expected.sort());
  });

  it('every row of DASH_URI_SITES is exercised (a token granted) by at least one fixture', () => {
    const covered = new Set<string>();
    for (const input of inputs) {
      const seen: UriTarget[] = [];
      rewrite(input, seen);
      for (const target of seen) if (target.url.host === 'gw.example') covered.add(target.site);
    }
    const missing = DASH_URI_SITES.map((row) => row.site).filter((site) => !covered.has(site));
    expect(missing).toEqual([]);
  });

  for (const input of inputs) {
    describe(input, () => {
      it('README "The token strategies": the output is the hand-written expected text, byte for byte', () => {
        const result = rewrite(input);
        expect(result.malformed).toBeUndefined();
        expect(result.text).toBe(read(expectedName(input)));
      });

      if (input.includes('.urlparam.')) return;

      it('README "The token strategies": every byte outside the URIs is preserved (independent mask of URI values)', () => {
        const output = withoutInserted(input, rewrite(input).text);
        expect(maskUris(output)).toBe(maskUris(read(input)));
      });

      it('the output parses (fast-xml-parser) to the input tree once token parameters are removed', () => {
        const output = withoutInserted(input, rewrite(input).text);
        expect(normalisedTree(output)).toEqual(normalisedTree(read(input)));
      });

      it('ISO/IEC 23009-1 §5.3.9.4.4: expanded templates (first, middle, last segment) keep the token intact', () => {
        const before = templateUses(read(input));
        const after = templateUses(rewrite(input).text);
        expect(after.length).toBe(before.length);
        after.forEach((use, i) => {
          const original = before[i]!;
          expect(use.urls.length).toBeGreaterThan(0);
          use.urls.forEach((url, k) => {
            const params = new URL(url, MANIFEST_URL).searchParams.getAll('tok');
            if (use.template === original.template) {
              expect(params).toEqual([]);
              return;
            }
            if (input.includes('.pathform.') && params.length === 0) {
              // In path form: one `~W~9` segment, the rest of the URL as the origin named it.
              expect(url.match(/~[TPW]~9\//g)).toHaveLength(1);
              expect(stripToken(url)).toBe(original.urls[k]);
              return;
            }
            expect(params).toHaveLength(1);
            // A dynamic MPD's templates are kept for the session (shaka, VLC): a reloaded resource's token.
            expect(SESSION_TEMPLATES.test(read(input)) ? ['P'] : ['W', 'T']).toContain(params[0]);
            expect(stripToken(url)).toBe(original.urls[k]);
          });
        });
      });
    });
  }
});
