import { createRequire } from 'node:module';
import { XMLParser } from 'fast-xml-parser';
import { rewriteDash } from '../src/manifest/dash/index.js';
import { rewriteHls } from '../src/manifest/hls/index.js';
import { checkRequest } from '../src/tokens/check.js';
import { gcore } from '../src/tokens/gcore.js';
import { signTarget } from '../src/tokens/sign.js';
import { createTokenizer, type TokenStrategy } from '../src/tokens/strategy.js';
import type { RewriteOptions, RewriteResult } from '../src/manifest/types.js';
import { vodPlaylist } from '../test/helpers/hostile-manifests.js';
import { medianMs, table } from './measure.js';

// m3u8-parser ships no type declarations.
const { Parser } = createRequire(import.meta.url)('m3u8-parser') as {
  Parser: new () => { push(text: string): void; end(): void };
};

const NOW = 1_700_000_000;
const SECRET = 'bench-secret';

/** How a viewer's link is signed for each strategy (README "The token strategies"): directory, file, path token. */
const INCOMING: ReadonlyArray<readonly [TokenStrategy, 'directory' | 'file' | 'path']> = [
  ['forward', 'directory'],
  ['mint', 'file'],
  ['path', 'path'],
];

type Rewrite = (text: string, options: RewriteOptions) => RewriteResult;

/**
 * Median time of rewriting `text` requested at `path`, for one strategy, with a fresh tokenizer per run
 * (as the gateway builds one per response). At least `expected` URIs must get a token (not in path mode,
 * where relative URIs inherit it).
 */
function rewriteTime(
  rewrite: Rewrite,
  text: string,
  path: string,
  strategy: TokenStrategy,
  scope: 'directory' | 'file' | 'path',
  expected: number,
): number {
  const signed = signTarget(`https://cdn.example.com${path}`, {
    scheme: gcore,
    secret: SECRET,
    expires: NOW + 3600,
    scope,
  });
  const { verdict } = checkRequest(signed, { scheme: gcore, keys: [SECRET], now: NOW });
  if (!verdict.ok) throw new Error(`bench setup: ${verdict.detail}`);
  const manifestUrl = new URL(signed);
  return medianMs(() => {
    const tokenize = createTokenizer({
      strategy,
      scheme: gcore,
      signingKey: SECRET,
      incoming: verdict,
      now: NOW,
      playlistTtl: 14_400,
      segmentTtl: 60,
      staticManifest: true,
      publicOrigin: manifestUrl.origin,
    });
    const result = rewrite(text, { manifestUrl, tokenize });
    if (strategy !== 'path' && result.rewritten < expected)
      throw new Error(`${strategy}: only ${result.rewritten} rewritten`);
  });
}

/** Rewrite time of a 10,000-segment playlist per strategy, against m3u8-parser reading the same text. */
export function runRewriteBench(): string {
  const text = vodPlaylist(10_000);
  const parse = medianMs(() => {
    const parser = new Parser();
    parser.push(text);
    parser.end();
  });
  const rows: Array<Record<string, string | number>> = [
    { operation: 'm3u8-parser parse (baseline)', 'median ms': parse, 'vs baseline': 1 },
  ];
  for (const [strategy, scope] of INCOMING) {
    const ms = rewriteTime(rewriteHls, text, '/vod/movie/index.m3u8', strategy, scope, 10_000);
    rows.push({
      operation: `rewriteHls 10,000 segments, ${strategy}`,
      'median ms': ms,
      'vs baseline': ms / parse,
    });
  }
  return table(rows);
}

/** A static MPD with one Representation whose SegmentList names `segments` SegmentURL entries. */
export function segmentListMpd(segments: number): string {
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT20000S"',
    '     minBufferTime="PT2S" profiles="urn:mpeg:dash:profile:full:2011">',
    '  <Period id="1">',
    '    <AdaptationSet mimeType="video/mp4" codecs="avc1.64001f">',
    '      <Representation id="v1" bandwidth="1500000" width="1280" height="720">',
    '        <SegmentList timescale="1000" duration="4000">',
    '          <Initialization sourceURL="v1/init.mp4"/>',
  ];
  for (let i = 1; i <= segments; i += 1) lines.push(`          <SegmentURL media="v1/seg-${i}.m4s"/>`);
  lines.push(
    '        </SegmentList>',
    '      </Representation>',
    '    </AdaptationSet>',
    '  </Period>',
    '</MPD>',
    '',
  );
  return lines.join('\n');
}

/** Rewrite time of an MPD with 5,000 SegmentURL entries per strategy, against fast-xml-parser reading it. */
export function runDashRewriteBench(): string {
  const text = segmentListMpd(5_000);
  const parser = new XMLParser({ ignoreAttributes: false });
  const parse = medianMs(() => parser.parse(text));
  const rows: Array<Record<string, string | number>> = [
    { operation: 'fast-xml-parser parse (baseline)', 'median ms': parse, 'vs baseline': 1 },
  ];
  for (const [strategy, scope] of INCOMING) {
    // forward: the token is for the directory holding the segments, so the MPD sits beside them.
    const path = strategy === 'forward' ? '/vod/movie/v1/manifest.mpd' : '/vod/movie/manifest.mpd';
    const body = strategy === 'forward' ? text.replace(/"v1\//g, '"') : text;
    const ms = rewriteTime(rewriteDash, body, path, strategy, scope, 5_000);
    rows.push({
      operation: `rewriteDash 5,000 SegmentURL, ${strategy}`,
      'median ms': ms,
      'vs baseline': ms / parse,
    });
  }
  return table(rows);
}
