/**
 * Documents shaped to make the rewriters' work grow faster than their size. Each must finish in time
 * proportional to its length, or be refused with a typed `limit` and its text unchanged. The times
 * bounded here are tens of times what the work takes, and far below what the quadratic shapes took
 * (minutes, or the process's death).
 */
import { describe, expect, it } from 'vitest';
import { rewriteDash } from '../../src/manifest/dash/index.js';
import { rewriteHls } from '../../src/manifest/hls/index.js';
import { isStaticManifest } from '../../src/manifest/index.js';
import { DEFAULT_MANIFEST_LIMITS, type ManifestLimits } from '../../src/manifest/limits.js';
import {
  longBaseUrlChainMpd,
  manyAttributesMpd,
  nestedBaseUrlMpd,
  playlistOfSize,
  segmentListMpd,
  variableBombPlaylist,
  wideMpd,
} from '../helpers/hostile-manifests.js';
import { MANIFEST_URL, testTokenizer } from './dash-helpers.js';

const NS = 'xmlns="urn:mpeg:dash:schema:mpd:2011"';

function dash(text: string, limits: Partial<ManifestLimits> = {}) {
  const started = performance.now();
  const result = rewriteDash(text, {
    manifestUrl: MANIFEST_URL,
    tokenize: testTokenizer(),
    limits: { ...DEFAULT_MANIFEST_LIMITS, ...limits },
  });
  return { result, ms: performance.now() - started };
}

describe('DASH: nesting and BaseURL chains', () => {
  it('refuses 100,000 nested Periods with BaseURLs (depth) at once, the text unchanged', () => {
    const text = nestedBaseUrlMpd(100_000);
    const { result, ms } = dash(text);
    expect(result.limit).toEqual({
      limit: 'depth',
      max: 256,
      detail: 'elements nested more than 256 deep',
    });
    expect(result.text).toBe(text);
    expect(ms).toBeLessThan(2000);
  });

  it('with no depth limit, the same document is refused by the URL budget instead of exhausting memory', () => {
    // Each level's URL repeats its parent's: 100,000 levels resolve to 10¹⁰ characters.
    const { result, ms } = dash(nestedBaseUrlMpd(100_000), { maxDepth: 200_000 });
    expect(result.limit?.limit).toBe('expansion');
    expect(ms).toBeLessThan(5000);
  });

  it('refuses a chain within the depth limit whose BaseURLs are long (the square of the depth)', () => {
    const text = longBaseUrlChainMpd(250, 4000);
    expect(text.length).toBeLessThan(1_100_000);
    const { result } = dash(text);
    expect(result.limit?.limit).toBe('expansion');
    expect(result.limit?.max).toBe(16 * text.length);
  });

  it('refuses a long base repeated by many siblings (each resolves to the whole base)', () => {
    const base = `https://gw.example/${'d'.repeat(8000)}/`;
    const siblings = '<AdaptationSet><BaseURL>a/</BaseURL></AdaptationSet>'.repeat(20_000);
    const text = `<MPD ${NS}><BaseURL>${base}</BaseURL><Period>${siblings}</Period></MPD>`;
    const { result, ms } = dash(text);
    expect(result.limit?.limit).toBe('expansion');
    expect(ms).toBeLessThan(5000);
  });

  it('rewrites the same shape when the base is short, every sibling resolved', () => {
    const siblings = '<AdaptationSet><BaseURL>a/x.mp4</BaseURL></AdaptationSet>'.repeat(20_000);
    const text = `<MPD ${NS}><BaseURL>https://gw.example/d/</BaseURL><Period>${siblings}</Period></MPD>`;
    const { result } = dash(text);
    expect(result.limit).toBeUndefined();
    expect(result.rewritten).toBe(20_000);
  });
});

describe('DASH: counts and per-element work', () => {
  it('refuses more elements than maxElements, counting as it scans', () => {
    const { result } = dash(wideMpd(5000), { maxElements: 1000 });
    expect(result.limit).toMatchObject({ limit: 'elements', max: 1000 });
    expect(dash(wideMpd(5000)).result.limit).toBeUndefined();
  });

  it('reads a start tag with 200,000 attributes in linear time', () => {
    const { result, ms } = dash(manyAttributesMpd(200_000));
    expect(result.malformed).toBeUndefined();
    expect(ms).toBeLessThan(5000);
  });

  it('still refuses a duplicate attribute among many (XML 1.0 §3.1)', () => {
    const text = manyAttributesMpd(50).replace('<Period a0="1"', '<Period a0="1" a49="2"');
    expect(dash(text).result.malformed).toMatch(/duplicate attribute a49/);
  });

  it('resolves 20,000 distinct xlink prefixes 200 levels deep in linear time', () => {
    const open = '<Period>'.repeat(200);
    const close = '</Period>'.repeat(200);
    const links = Array.from(
      { length: 20_000 },
      (_, i) => `<EventStream xmlns:p${i}="http://www.w3.org/1999/xlink" p${i}:href="e${i}.xml"/>`,
    ).join('');
    const text = `<MPD ${NS}>${open}${links}${close}</MPD>`;
    const { result, ms } = dash(text);
    expect(result.rewritten).toBe(20_000);
    expect(result.text).toContain('p19999:href="e19999.xml?tok=P"');
    expect(ms).toBeLessThan(10_000);
  });

  it('scopes Period-level templates once per level, however many templates and AdaptationSets', () => {
    const templates = '<SegmentTemplate media="$RepresentationID$/$Number$.m4s"/>'.repeat(3000);
    const sets = '<AdaptationSet><Representation id="a" bandwidth="1"/></AdaptationSet>'.repeat(3000);
    const { result, ms } = dash(`<MPD ${NS}><Period>${templates}${sets}</Period></MPD>`);
    expect(result.rewritten).toBe(3000);
    expect(ms).toBeLessThan(5000);
  });

  it('rewrites a 2 MB SegmentList MPD within the limits', () => {
    const text = segmentListMpd(2_000_000);
    const { result } = dash(text);
    expect(result.limit).toBeUndefined();
    expect(result.rewritten).toBe(text.match(/<SegmentURL /g)!.length + 1);
  });
});

describe('HLS: variables and size', () => {
  const tokenize = () => ({ kind: 'query' as const, params: [['tok', 'T'] as const] });

  it('refuses a 1 MiB variable named 2,000 times in one URI before building it', () => {
    const text = variableBombPlaylist(1 << 20, 2000);
    const started = performance.now();
    const result = rewriteHls(text, { manifestUrl: MANIFEST_URL, tokenize });
    expect(result.limit?.limit).toBe('expansion');
    expect(result.text).toBe(text);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('rewrites the same playlist when the variable is short', () => {
    const result = rewriteHls(variableBombPlaylist(8, 20), { manifestUrl: MANIFEST_URL, tokenize });
    expect(result.limit).toBeUndefined();
    expect(result.rewritten).toBe(1);
  });

  it('rewrites a 7.9 MB playlist within the limits', () => {
    const text = playlistOfSize(7_900_000);
    const result = rewriteHls(text, { manifestUrl: MANIFEST_URL, tokenize });
    expect(result.limit).toBeUndefined();
    expect(result.rewritten).toBe(text.match(/\.m4s\n/g)!.length + 2);
  });
});

describe('manifest classification', () => {
  it('finds whether an MPD is static in linear time when no start tag closes (the pattern was quadratic)', () => {
    const text = '<MPD '.repeat(200_000);
    const started = performance.now();
    expect(isStaticManifest('dash', text)).toBe(true);
    // 400 KB took 38 s; this is 1 MB.
    expect(performance.now() - started).toBeLessThan(1000);
    expect(isStaticManifest('dash', `<MPD ${NS} type="dynamic">`)).toBe(false);
    expect(isStaticManifest('dash', `<?xml version="1.0"?><x:MPD type='dynamic' a="1">`)).toBe(false);
  });
});
