import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { rewriteDash } from '../../src/manifest/dash/index.js';
import { maskUris, normalisedTree, stripToken, templateUses, testTokenizer } from './dash-helpers.js';

/** ISO/IEC 23009-1 §5.3.1.2, §5.15: a dynamic MPD, or an MPD Patch (which exists only for one). */
const SESSION_TEMPLATES = /<(?:[\w.-]+:)?(?:MPD\b[^>]*\btype\s*=\s*["']dynamic["']|Patch\b)/;

const DIR = fileURLToPath(new URL('./corpus/dash/', import.meta.url));

interface Case {
  readonly file: string;
  /** The gateway's host: URIs elsewhere are foreign and must be declined. */
  readonly host: string;
  readonly rewritten: number;
  /** Sites the tokenizer was asked about and declined (foreign host). */
  readonly declined: number;
  readonly why: string;
}

// Counts recounted by hand from the files; they match the `rw` column of the corpus index unless `why`
// says otherwise. A SegmentTemplate attribute counts once however many segments it expands to.
const CASES: readonly Case[] = [
  {
    file: 'livesim2-dynamic-patchlocation-utctiming.mpd',
    host: 'gw.example',
    rewritten: 5,
    declined: 1,
    why: 'PatchLocation + 2 × (media, initialization); the http-xsdate UTCTiming on time.akamai.com is declined',
  },
  {
    file: 'shaka-packager-dynamic-segmenttimeline-number.mpd',
    host: 'gw.example',
    rewritten: 2,
    declined: 0,
    why: 'Representation-level template: media, initialization',
  },
  {
    file: 'content-steering-multi-baseurl-cmcd.mpd',
    host: 'gw.example',
    rewritten: 0,
    declined: 5,
    why:
      '4 template attributes under the first BaseURL (cloudfront) and the ContentSteering server; the ' +
      '3 foreign directory BaseURLs are offered but never reported (never fetched)',
  },
  {
    file: 'content-steering-multi-baseurl-cmcd.mpd',
    host: 'cloudfront.content-steering.com',
    rewritten: 1,
    declined: 4,
    why:
      'the steering server gets its token; the 4 template attributes are relative and the player may ' +
      'resolve them against the fastly or akamai alternative, so they are declined',
  },
  {
    file: 'axinom-multidrm-period-baseurl-laurl.mpd',
    host: 'gw.example',
    rewritten: 0,
    declined: 6,
    why: 'Period BaseURL on media.axprod.net; Laurl is not a site',
  },
  {
    file: 'axinom-multidrm-period-baseurl-laurl.mpd',
    host: 'media.axprod.net',
    rewritten: 6,
    declined: 0,
    why: '3 AdaptationSets × (media, initialization) under the Period BaseURL',
  },
  {
    file: 'azure-ams-sea-aes128-keyuritemplate.mpd',
    host: 'gw.example',
    rewritten: 3,
    declined: 0,
    why: 'media, initialization and sea:CryptoPeriod@keyUriTemplate',
  },
  {
    file: 'segmentlist-mediarange-tabs.mpd',
    host: 'gw.example',
    rewritten: 19,
    declined: 0,
    why: '2 Initialization@sourceURL + 17 SegmentURL@media (2 distinct files)',
  },
  {
    file: 'axinom-multiperiod-alternative-mpd-replace-event.mpd',
    host: 'gw.example',
    rewritten: 5,
    declined: 0,
    why: '2 Periods × (media, initialization) + ReplacePresentation@url',
  },
  {
    file: 'mpeg-annexI-urlparam-query-token.mpd',
    host: 'gw.example',
    rewritten: 1,
    declined: 0,
    why: 'one media template; the existing UrlQueryInfo is left as it is',
  },
  {
    file: 'mpeg-annexG-multi-baseurl-cdn.mpd',
    host: 'gw.example',
    rewritten: 0,
    declined: 11,
    why: '11 leaf BaseURLs under the first MPD BaseURL (cdn1)',
  },
  {
    file: 'mpeg-annexG-multi-baseurl-cdn.mpd',
    host: 'cdn1.example.com',
    rewritten: 0,
    declined: 11,
    why:
      'the index counts the 11 leaf BaseURLs and the cdn1 MPD BaseURL as rw; the directory is never ' +
      'fetched (no token), and the leaves are relative while cdn2 is an alternative: all 11 declined',
  },
  {
    file: 'mpeg-annexG-xlink-remote-period.mpd',
    host: 'gw.example',
    rewritten: 17,
    declined: 0,
    why: '16 template attributes + the remote Period xlink:href',
  },
  {
    file: 'mpeg-annexG-mpd-patch.mpp',
    host: 'gw.example',
    rewritten: 1,
    declined: 0,
    why: 'the PatchLocation inside <replace>',
  },
  {
    file: 'location-segmentbase-representationindex.mpd',
    host: 'gw.example',
    rewritten: 0,
    declined: 4,
    why: 'Location, MPD BaseURL (no trailing slash: a leaf), AdaptationSet BaseURL and RepresentationIndex, all on www.example.com',
  },
  {
    file: 'location-segmentbase-representationindex.mpd',
    host: 'www.example.com',
    rewritten: 4,
    declined: 0,
    why: 'the same 4 sites once www.example.com is the gateway',
  },
];

function rewrite(testCase: Case) {
  const text = readFileSync(DIR + testCase.file, 'utf8');
  const result = rewriteDash(text, {
    manifestUrl: new URL(`https://${testCase.host}/corpus/${testCase.file}`),
    tokenize: testTokenizer(testCase.host),
  });
  return { text, result };
}

describe('DASH corpus (real manifests)', () => {
  it('every corpus file has at least one case', () => {
    const files = readdirSync(DIR).filter((f) => /\.(mpd|mpp)$/.test(f));
    expect(files).toHaveLength(12);
    expect(new Set(CASES.map((c) => c.file))).toEqual(new Set(files));
  });

  for (const testCase of CASES) {
    describe(`${testCase.file} (gateway host ${testCase.host})`, () => {
      it(`gives tokens to ${testCase.rewritten} sites and declines ${testCase.declined} foreign ones: ${testCase.why}`, () => {
        const { result } = rewrite(testCase);
        expect(result.malformed).toBeUndefined();
        expect(result.rewritten).toBe(testCase.rewritten);
        expect(result.skipped.filter((s) => s.reason === 'declined')).toHaveLength(testCase.declined);
        expect(result.skipped.filter((s) => s.reason !== 'declined')).toEqual([]);
      });

      it('README "The token strategies": every byte outside the URIs is preserved (independent mask of URI values)', () => {
        const { text, result } = rewrite(testCase);
        expect(maskUris(result.text)).toBe(maskUris(text));
      });

      it('the output is well-formed and parses to the input tree once token parameters are removed', () => {
        const { text, result } = rewrite(testCase);
        expect(XMLValidator.validate(result.text)).toBe(true);
        expect(normalisedTree(result.text)).toEqual(normalisedTree(text));
      });

      it('ISO/IEC 23009-1 §5.3.9.4.4: expanded templates (first, middle, last segment) keep the token intact', () => {
        const { text, result } = rewrite(testCase);
        const before = templateUses(text);
        const after = templateUses(result.text);
        expect(after.length).toBe(before.length);
        after.forEach((use, i) => {
          use.urls.forEach((url, k) => {
            const params = new URL(url, `https://${testCase.host}/`).searchParams.getAll('tok');
            if (use.template === before[i]!.template) {
              expect(params).toEqual([]);
              return;
            }
            expect(params).toHaveLength(1);
            // A dynamic MPD's templates are kept for the session (shaka, VLC): a reloaded resource's token.
            expect(SESSION_TEMPLATES.test(text) ? ['P'] : ['W', 'T']).toContain(params[0]);
            expect(stripToken(url)).toBe(before[i]!.urls[k]);
          });
        });
      });
    });
  }
});
