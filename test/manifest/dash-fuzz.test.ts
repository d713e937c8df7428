import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { XMLValidator } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { looksLikeDash, rewriteDash } from '../../src/manifest/dash/index.js';
import type { Tokenizer } from '../../src/manifest/types.js';
import { MANIFEST_URL } from './dash-helpers.js';
import { FUZZ_MAX_BYTES, FUZZ_RUNS, FUZZ_TIMEOUT_MS, onlyInserted, SizeFuzzer } from './size-fuzz-helpers.js';

// A token no input contains, so that removing it from the output must give the input back.
const grantAll: Tokenizer = (target) =>
  target.url.host === 'gw.example' ? { kind: 'query', params: [['sgTok', 'Q7']] } : undefined;
const INSERTIONS = ['?sgTok=Q7', '&amp;sgTok=Q7', '&sgTok=Q7', 'sgTok=Q7'];

const onlyTokensInserted = (input: string, output: string): boolean =>
  onlyInserted(input, output, INSERTIONS);
const INSERTED_PROPERTY =
  /(?:\r?\n[ \t]*)?<(?:[^\s<>]+:)?SupplementalProperty schemeIdUri="urn:mpeg:dash:urlparam:2014" xmlns:up="urn:mpeg:dash:schema:urlparam:2014"><up:UrlQueryInfo queryTemplate="\$querypart\$" queryString="sgTok=Q7"\/><\/(?:[^\s<>]+:)?SupplementalProperty>/g;

const documents = [
  fileURLToPath(new URL('./corpus/dash/', import.meta.url)),
  fileURLToPath(new URL('../../fixtures/dash/', import.meta.url)),
].flatMap((dir) =>
  readdirSync(dir)
    .filter((f) => /\.(mpd|mpp)$/.test(f) && !f.includes('.expected.'))
    .map((f) => readFileSync(dir + f, 'utf8')),
);

function rewrite(text: string, urlParam = false) {
  return rewriteDash(text, {
    manifestUrl: MANIFEST_URL,
    tokenize: grantAll,
    ...(urlParam ? { urlParam: { params: [['sgTok', 'Q7'] as const] } } : {}),
  });
}

/** Checks that hold for any input: no throw, nothing but insertions, well-formedness kept. */
function checkInvariants(input: string): void {
  const result = rewrite(input);
  if (result.malformed !== undefined) {
    expect(result.text).toBe(input);
    expect(result.rewritten).toBe(0);
    return;
  }
  expect(onlyTokensInserted(input, result.text)).toBe(true);
  if (XMLValidator.validate(input) === true) expect(XMLValidator.validate(result.text)).toBe(true);

  const annexI = rewrite(input, true);
  expect(onlyTokensInserted(input, annexI.text.replace(INSERTED_PROPERTY, ''))).toBe(true);
  if (XMLValidator.validate(input) === true) expect(XMLValidator.validate(annexI.text)).toBe(true);
}

// Fragments that make the scanner take its many paths: tags with prefixes, both quote styles,
// entities and bare ampersands, comments, CDATA, PIs, templates and URI sites.
const FRAGMENTS = [
  `<MPD xmlns="urn:mpeg:dash:schema:mpd:2011">`,
  '</MPD>',
  '<Period>',
  '</Period>',
  '<AdaptationSet>',
  '</AdaptationSet>',
  '<Representation id="r" bandwidth="5">',
  '</Representation>',
  '<mpd:BaseURL>',
  '</mpd:BaseURL>',
  '<BaseURL>',
  '</BaseURL>',
  '<Location>',
  '</Location>',
  '<PatchLocation>',
  '</PatchLocation>',
  '<SegmentTemplate media="$RepresentationID$/$Number%05d$.m4s" initialization=\'i$$.mp4\'/>',
  '<SegmentURL media="s.m4s?a=1&amp;b"/>',
  '<Initialization sourceURL="init.mp4"/>',
  '<Period xmlns:xlink="http://www.w3.org/1999/xlink" xlink:href="r.xml"/>',
  '<![CDATA[v.mp4?x&y]]>',
  '<!-- c -->',
  '<?pi x?>',
  'v.mp4',
  'dir/',
  'https://gw.example/a',
  'https://cdn.other.example/b',
  '&amp;',
  '&#x26;',
  '&',
  '&bogus;',
  '"',
  "'",
  '<',
  '>',
  '/',
  '=',
  ' ',
  '\t',
  '\r\n',
  '\n',
  '#',
  '?',
  '$',
  '\uD83D\uDE00',
];

const VALUE_PARTS = [
  'v.mp4',
  'a',
  '/',
  'dir/',
  '../',
  '?',
  '=',
  '&amp;',
  '&#x26;',
  '&#38;',
  '&lt;',
  '$Number$',
  '$Number%05d$',
  '$RepresentationID$',
  '$Time$',
  '$Bandwidth$',
  '$$',
  '%20',
  '#f',
  ' ',
  '\t',
  'https://gw.example/',
  'https://cdn.other.example/',
  '//gw.example/x/',
  'data:,x',
  'urn:x',
  '\uD83D\uDE00',
];
const value = fc.array(fc.constantFrom(...VALUE_PARTS), { maxLength: 8 }).map((parts) => parts.join(''));
const space = fc.constantFrom(' ', '  ', '\t', '\n', '\r\n ');
const ELEMENTS = [
  'Period',
  'AdaptationSet',
  'Representation',
  'BaseURL',
  'mpd:BaseURL',
  'SegmentTemplate',
  'SegmentList',
  'SegmentURL',
  'SegmentBase',
  'Initialization',
  'RepresentationIndex',
  'BitstreamSwitching',
  'Location',
  'PatchLocation',
  'ContentProtection',
  'sea:CryptoPeriod',
  'EventStream',
  'ReplacePresentation',
];
const ATTRIBUTES = [
  'media',
  'initialization',
  'index',
  'bitstreamSwitching',
  'sourceURL',
  'id',
  'bandwidth',
  'url',
  'keyUriTemplate',
  'xlink:href',
];
// XML 1.0 §3.1 Eq allows whitespace around `=`.
const equals = fc.constantFrom('=', ' = ', '\t=\n');
const attribute = fc
  .tuple(fc.constantFrom(...ATTRIBUTES), value, fc.constantFrom('"', "'"), space, equals)
  .map(([name, v, quote, before, eq]) => ({ name, text: `${before}${name}${eq}${quote}${v}${quote}` }));

const { tree } = fc.letrec<{ tree: string; content: string }>((tie) => ({
  tree: fc
    .tuple(
      fc.constantFrom(...ELEMENTS),
      fc.uniqueArray(attribute, { selector: (a) => a.name, maxLength: 3 }),
      fc.oneof({ depthSize: 'small', withCrossShrink: true }, fc.constant(''), tie('content')),
      space,
    )
    .map(([name, attrs, content, trailing]) => {
      const open = `<${name}${attrs.map((a) => a.text).join('')}${trailing.includes('\n') ? trailing : ''}`;
      return content === '' ? `${open}/>` : `${open}>${content}</${name}>`;
    }),
  content: fc
    .array(
      fc.oneof(
        { depthSize: 'small' },
        value,
        value.map((v) => `<![CDATA[${v}]]>`),
        fc.constant('<!-- c -->'),
        tie('tree'),
      ),
      { maxLength: 4 },
    )
    .map((parts) => parts.join('')),
}));
const document = fc
  .tuple(fc.array(tree, { maxLength: 5 }), fc.constantFrom('', '\n', '\r\n'))
  .map(
    ([children, eol]) =>
      `<?xml version="1.0"?>${eol}<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" xmlns:mpd="urn:mpeg:dash:schema:mpd:2011"` +
      ` xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:sea="urn:mpeg:dash:schema:sea:2012">${children.join(eol)}</MPD>${eol}`,
  );

describe('rewriteDash never throws and changes nothing but the URIs (property tests)', () => {
  it('on generated well-formed MPD-like documents with tricky URI values', () => {
    let rewritten = 0;
    fc.assert(
      fc.property(document, (text) => {
        const result = rewrite(text);
        expect(result.malformed).toBeUndefined();
        rewritten += result.rewritten;
        checkInvariants(text);
      }),
      { numRuns: 400 },
    );
    // The generator must reach the rewriting paths, not only pass documents through.
    expect(rewritten).toBeGreaterThan(100);
  });

  it('on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), (text) => {
        checkInvariants(text);
        looksLikeDash(text);
      }),
      { numRuns: 300 },
    );
  });

  it('on strings built from XML and MPD fragments', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 40 }), (parts) => {
        checkInvariants(parts.join(''));
      }),
      { numRuns: 500 },
    );
  });

  it('on real MPDs and fixtures with bytes deleted, inserted or duplicated', () => {
    const mutation = fc.oneof(
      fc.record({
        kind: fc.constant('delete' as const),
        at: fc.nat(),
        length: fc.integer({ min: 1, max: 8 }),
      }),
      fc.record({
        kind: fc.constant('insert' as const),
        at: fc.nat(),
        text: fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ maxLength: 6 })),
      }),
      fc.record({
        kind: fc.constant('duplicate' as const),
        at: fc.nat(),
        length: fc.integer({ min: 1, max: 60 }),
      }),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...documents),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        (document, mutations) => {
          let text = document;
          for (const m of mutations) {
            const at = m.at % (text.length + 1);
            if (m.kind === 'delete') text = text.slice(0, at) + text.slice(at + m.length);
            else if (m.kind === 'insert') text = text.slice(0, at) + m.text + text.slice(at);
            else text = text.slice(0, at) + text.slice(at, at + m.length) + text.slice(at);
          }
          checkInvariants(text);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('on the unmutated corpus and fixtures', () => {
    for (const document of documents) checkInvariants(document);
  });
});

describe('DASH rewriter on large random documents', () => {
  const fuzzer = new SizeFuzzer();
  beforeAll(() => fuzzer.warm(), 60_000);
  afterAll(async () => {
    console.log(fuzzer.report('DASH size fuzz'));
    await fuzzer.pool.close();
  });

  // Elements that nest (each with the URI sites that resolve against their level), for wrapping a
  // repeated body in a random depth of levels.
  const LEVEL_TAGS = ['Period', 'AdaptationSet', 'Representation', 'SegmentList', 'mpd:Period'];
  const body = fc.array(
    fc.oneof(
      { weight: 40, arbitrary: tree },
      { weight: 1, arbitrary: fc.constantFrom(...FRAGMENTS) },
      {
        weight: 1,
        arbitrary: fc.integer({ min: 1, max: 50_000 }).map((n) => `<BaseURL>${'b'.repeat(n)}/</BaseURL>`),
      },
    ),
    { minLength: 1, maxLength: 16 },
  );
  const large = fc
    .tuple(
      body,
      fc.integer({ min: 50_000, max: FUZZ_MAX_BYTES }),
      fc.array(fc.constantFrom(...LEVEL_TAGS), { maxLength: 300 }),
      fc.constantFrom('<BaseURL>x/</BaseURL>', '', '<BaseURL>https://gw.example/a/</BaseURL>'),
    )
    .map(([parts, size, levels, base]) => {
      const block = parts.join('');
      const repeated = block.repeat(Math.max(1, Math.floor(size / Math.max(1, block.length))));
      const open = levels.map((name) => `<${name}>${base}`).join('');
      const close = levels
        .map((name) => `</${name}>`)
        .reverse()
        .join('');
      return (
        '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" xmlns:mpd="urn:mpeg:dash:schema:mpd:2011"' +
        ` xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:sea="urn:mpeg:dash:schema:sea:2012">${open}${repeated}${close}</MPD>`
      );
    });

  it(
    'finishes within time and memory bounds, or refuses with a limit',
    async () => {
      let rewritten = 0;
      await fc.assert(
        fc.asyncProperty(large, async (text) => {
          const { outcome, ms } = await fuzzer.rewrite('dash', text);
          rewritten += outcome.rewritten;
          // A run out of memory rejects above; a slip back to quadratic work takes minutes.
          expect(ms).toBeLessThan(30_000);
          if (outcome.limit === undefined && outcome.malformed === undefined) {
            expect(outcome.body).toBeDefined();
          }
        }),
        { numRuns: FUZZ_RUNS },
      );
      // The documents must reach the rewriting paths, not only be refused as malformed.
      expect(rewritten).toBeGreaterThan(0);
    },
    FUZZ_TIMEOUT_MS,
  );
});
