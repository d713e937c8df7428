import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { rewriteDash } from '../../src/manifest/dash/index.js';
import { checkRequest } from '../../src/tokens/check.js';
import { isStaticManifest } from '../../src/manifest/index.js';
import type { TokenScheme } from '../../src/tokens/scheme.js';
import type { TokenStrategy } from '../../src/tokens/strategy.js';
import { expandTemplate, maskUris } from './dash-helpers.js';
import {
  carriesToken,
  checkOptions,
  expectJudgement,
  GATEWAY,
  judge,
  LINK_TTL,
  NOW,
  PLAYLIST_TTL,
  resourceOf,
  resolveHttp,
  runsFor,
  signManifest,
  STRATEGIES,
  tokenizerFor,
  withoutTokens,
  type FoundSite,
  type KnownDefect,
  type NoTokens,
} from './strategy-helpers.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/dash/', import.meta.url));
const CORPUS = fileURLToPath(new URL('./corpus/dash/', import.meta.url));

// ---------------------------------------------------------------------------------------------------
// The test's own reading of an MPD (ISO/IEC 23009-1): fast-xml-parser in document order, the BaseURL
// chain MPD → Period → AdaptationSet → Representation (§5.6), SegmentTemplate attributes inherited
// down to each Representation and expanded (§5.3.9.4.4) for its first, a middle and its last segment.
// Nothing here is shared with src/manifest/dash.

type XmlNode = Record<string, unknown>;

const documentParser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  removeNSPrefix: true,
  preserveOrder: true,
  parseTagValue: false,
  parseAttributeValue: false,
});

function nameOf(node: XmlNode): string | undefined {
  return Object.keys(node).find((key) => key !== ':@' && key !== '#text');
}

function childrenOf(node: XmlNode): XmlNode[] {
  const name = nameOf(node);
  const value = name === undefined ? undefined : node[name];
  return Array.isArray(value) ? (value as XmlNode[]) : [];
}

function elements(node: XmlNode, name?: string): XmlNode[] {
  return childrenOf(node).filter((child) => {
    const childName = nameOf(child);
    return childName !== undefined && (name === undefined || childName === name);
  });
}

function attribute(node: XmlNode, name: string): string | undefined {
  const attributes = node[':@'] as Record<string, string> | undefined;
  return attributes?.[name];
}

/** Character content of a leaf element (comments dropped, CDATA and entities decoded, trimmed). */
function textOf(node: XmlNode): string {
  return childrenOf(node)
    .map((child) => (typeof child['#text'] === 'string' ? child['#text'] : ''))
    .join('')
    .trim();
}

interface MutableSite extends FoundSite {
  urls: URL[];
  failoverUrls: URL[];
  directory?: boolean;
  templatedDirectory?: boolean;
}

/**
 * §5.6.5: several BaseURLs at one level are alternatives. A player resolves against the first and fails
 * over to the others (content steering, DVB priority): `others` are the bases it may move to.
 */
interface Bases {
  readonly primary: URL | undefined;
  readonly others: readonly URL[];
}

/** The SegmentTemplate values in force at a level, each with the site of the element that set it. */
interface TemplateScope {
  readonly values: Readonly<Record<string, { readonly value: string; readonly site?: MutableSite }>>;
  readonly timeline?: XmlNode;
}

const TEMPLATE_URIS = ['media', 'initialization', 'index', 'bitstreamSwitching'];
const TEMPLATE_NUMBERS = ['startNumber', 'duration', 'timescale'];
// §5.3.9.4.4: `$$` is a literal dollar; any other `$…$` is an identifier.
const IDENTIFIER = /\$(?:RepresentationID|Number|Bandwidth|Time|SubNumber)(?:%0\d+[diouxX])?\$/;

/** ISO 8601 durations of the MPD schema (`PT1H2M3.5S`, `P1DT2H`), in seconds. */
function seconds(duration: string | undefined): number | undefined {
  const match =
    /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(
      duration?.trim() ?? '',
    );
  if (!match) return undefined;
  const [, d = '0', h = '0', m = '0', s = '0'] = match;
  return Number(d) * 86_400 + Number(h) * 3_600 + Number(m) * 60 + Number(s);
}

/** Number and time of the first, a middle and the last segment (or of 1st, 6th, 100th when unknowable). */
function segmentPoints(
  scope: TemplateScope,
  periodSeconds: number | undefined,
): Array<{ number: number; time: number }> {
  const start = Number(scope.values['startNumber']?.value ?? 1);
  if (scope.timeline) {
    const times: number[] = [];
    let t = 0;
    for (const s of elements(scope.timeline, 'S')) {
      if (attribute(s, 't') !== undefined) t = Number(attribute(s, 't'));
      const d = Number(attribute(s, 'd'));
      const repeat = Math.max(0, Number(attribute(s, 'r') ?? 0));
      for (let k = 0; k <= repeat; k += 1) {
        times.push(t);
        t += d;
      }
    }
    if (times.length > 0) {
      return [0, Math.floor(times.length / 2), times.length - 1].map((i) => ({
        number: start + i,
        time: times[i]!,
      }));
    }
  }
  const duration = Number(scope.values['duration']?.value ?? 1);
  const timescale = Number(scope.values['timescale']?.value ?? 1);
  const count =
    periodSeconds === undefined ? undefined : Math.max(1, Math.ceil((periodSeconds * timescale) / duration));
  const picks = count === undefined ? [0, 5, 99] : [0, Math.floor(count / 2), count - 1];
  return picks.map((i) => ({ number: start + i, time: i * duration }));
}

/** Finds every URI site of an MPD or MPD Patch and the URLs a player requesting it at `url` fetches. */
function scanMpd(text: string, url: URL): FoundSite[] {
  const sites: MutableSite[] = [];
  const templateUsers = new Map<MutableSite, Set<string>>();
  const doc = documentParser.parse(text) as XmlNode[];
  const root = doc.find((node) => nameOf(node) === 'MPD' || nameOf(node) === 'Patch');
  if (!root) return sites;
  const isPatch = nameOf(root) === 'Patch';
  // shaka and VLC keep a dynamic MPD's first SegmentTemplate for the whole session: its URLs need the
  // lifetime of a reloaded resource (a patch exists only for a dynamic MPD).
  const sessionTemplates = isPatch || attribute(root, 'type') === 'dynamic';

  const templateBase = new Map<MutableSite, Bases>();
  /** A template attribute: its URLs are its expansions, added by each Representation that uses it. */
  const addTemplate = (site: string, raw: string, base: Bases): MutableSite => {
    const found: MutableSite = { site, raw, playlist: sessionTemplates, urls: [], failoverUrls: [] };
    sites.push(found);
    templateUsers.set(found, new Set());
    templateBase.set(found, base);
    return found;
  };

  const add = (site: string, raw: string, base: Bases | URL, playlist = false): MutableSite => {
    const bases = base instanceof URL ? { primary: base, others: [] } : base;
    const resolved = resolveHttp(raw, bases.primary);
    const failoverUrls = bases.others.flatMap((other) => resolveHttp(raw, other) ?? []);
    const found: MutableSite = { site, raw, playlist, urls: resolved ? [resolved] : [], failoverUrls };
    if (site.endsWith('BaseURL') && resolved?.pathname.endsWith('/')) found.directory = true;
    sites.push(found);
    return found;
  };

  // §5.6.4: the first Location is where the MPD lives from the next refresh on; relative URLs of the
  // document (PatchLocation, alternative MPDs) follow it. In a patch, the patch's own URL.
  const location = isPatch ? undefined : elements(root, 'Location')[0];
  const documentBase = (location && resolveHttp(textOf(location), url)) || url;

  const hrefs = (node: XmlNode): void => {
    const href = attribute(node, 'href');
    if (href !== undefined) add(`${nameOf(node)}@href`, href, url, true);
  };

  /**
   * The sites held by a level's own children (SegmentTemplate, SegmentList, SegmentBase, keys, events,
   * content steering), and the SegmentTemplate values in force below it (§5.3.9.2: inherited downwards).
   */
  const leaves = (node: XmlNode, base: Bases, scope: TemplateScope): TemplateScope => {
    let next = scope;
    for (const child of elements(node)) {
      const name = nameOf(child)!;
      if (name === 'SegmentTemplate') {
        const values = { ...next.values };
        for (const key of [...TEMPLATE_URIS, ...TEMPLATE_NUMBERS]) {
          const value = attribute(child, key);
          if (value === undefined) continue;
          const site = TEMPLATE_URIS.includes(key)
            ? addTemplate(`SegmentTemplate@${key}`, value, base)
            : undefined;
          values[key] = { value, ...(site ? { site } : {}) };
        }
        const timeline = elements(child, 'SegmentTimeline')[0] ?? next.timeline;
        next = { values, ...(timeline ? { timeline } : {}) };
      }
      if (['SegmentTemplate', 'SegmentList', 'SegmentBase'].includes(name)) {
        for (const inner of elements(child)) {
          const innerName = nameOf(inner)!;
          const source = attribute(inner, 'sourceURL');
          if (source !== undefined) add(`${innerName}@sourceURL`, source, base);
          if (innerName === 'SegmentURL') {
            for (const key of ['media', 'index']) {
              const value = attribute(inner, key);
              if (value !== undefined) add(`SegmentURL@${key}`, value, base);
            }
          }
        }
      }
      if (name === 'ContentProtection') {
        for (const period of elements(child, 'CryptoPeriod')) {
          const key = attribute(period, 'keyUriTemplate');
          if (key !== undefined) add('CryptoPeriod@keyUriTemplate', key, base);
        }
      }
      if (name === 'EventStream') {
        for (const event of elements(child, 'Event')) {
          for (const replace of elements(event, 'ReplacePresentation')) {
            const target = attribute(replace, 'url');
            if (target !== undefined) add('ReplacePresentation@url', target, documentBase, true);
          }
        }
      }
      // §5.12 / DASH-IF content steering: the steering server, reloaded like a playlist.
      if (name === 'ServiceDescription') {
        for (const steering of elements(child, 'ContentSteering')) {
          add('ContentSteering', textOf(steering), documentBase, true);
        }
      }
    }
    return next;
  };

  const baseOf = (node: XmlNode, parent: Bases, level: string): Bases => {
    const alternatives = elements(node, 'BaseURL').map(textOf);
    if (alternatives.length === 0 || alternatives[0] === '') return parent;
    const sites = alternatives.filter((raw) => raw !== '').map((raw) => add(`${level}/BaseURL`, raw, parent));
    const primary = sites[0]!.urls[0];
    const seen = new Set(primary ? [primary.href] : []);
    const others: URL[] = [];
    for (const site of sites) {
      for (const candidate of [...site.urls, ...site.failoverUrls]) {
        if (seen.has(candidate.href)) continue;
        seen.add(candidate.href);
        others.push(candidate);
      }
    }
    return { primary, others };
  };

  const representation = (
    node: XmlNode,
    parentBase: Bases,
    inherited: TemplateScope,
    periodSeconds: number | undefined,
  ): void => {
    hrefs(node);
    const base = baseOf(node, parentBase, 'Representation');
    const scope = leaves(node, base, inherited);
    const id = attribute(node, 'id') ?? '';
    const bandwidth = Number(attribute(node, 'bandwidth') ?? 0);
    for (const key of TEMPLATE_URIS) {
      const set = scope.values[key];
      if (!set?.site) continue;
      templateUsers.get(set.site)!.add(id);
      for (const point of segmentPoints(scope, periodSeconds)) {
        const reference = expandTemplate(set.value, { id, bandwidth, ...point });
        const expanded = resolveHttp(reference, base.primary);
        if (expanded) set.site.urls.push(expanded);
        for (const other of base.others) {
          const failover = resolveHttp(reference, other);
          if (failover) set.site.failoverUrls.push(failover);
        }
      }
    }
  };

  const adaptationSet = (
    node: XmlNode,
    parentBase: Bases,
    inherited: TemplateScope,
    periodSeconds: number | undefined,
  ): void => {
    hrefs(node);
    const base = baseOf(node, parentBase, 'AdaptationSet');
    const scope = leaves(node, base, inherited);
    for (const child of elements(node, 'Representation')) representation(child, base, scope, periodSeconds);
  };

  const period = (node: XmlNode, parentBase: Bases, periodSeconds: number | undefined): void => {
    hrefs(node);
    const base = baseOf(node, parentBase, 'Period');
    const scope = leaves(node, base, { values: {} });
    for (const child of elements(node, 'AdaptationSet')) adaptationSet(child, base, scope, periodSeconds);
  };

  if (!isPatch) {
    for (const element of elements(root, 'Location')) add('Location', textOf(element), url, true);
    for (const element of elements(root, 'PatchLocation'))
      add('PatchLocation', textOf(element), documentBase, true);
    const base = baseOf(root, { primary: documentBase, others: [] }, 'MPD');
    leaves(root, base, { values: {} });
    const periods = elements(root, 'Period');
    const total =
      attribute(root, 'type') === 'dynamic'
        ? undefined
        : seconds(attribute(root, 'mediaPresentationDuration'));
    for (const node of periods) {
      const own = seconds(attribute(node, 'duration'));
      period(node, base, own ?? (periods.length === 1 ? total : undefined));
    }
  } else {
    // An MPD Patch (ISO/IEC 23009-1 §5.15): the MPD's BaseURL chain is not in it; what an operation
    // adds starts a fresh chain at the patch's URL.
    const patchBase: Bases = { primary: url, others: [] };
    for (const operation of elements(root)) {
      const sel = attribute(operation, 'sel') ?? '';
      const body = elements(operation);
      if (body.length === 0) {
        // A text operation: an attribute value (`…/SegmentTemplate/@media`, or `add type="@media"`)
        // or an element's text (`…/Location/text()`).
        const typed = attribute(operation, 'type');
        const match = /\/([A-Za-z]+)(?:\[[^\]]*\])?(?:\/(@[A-Za-z]+|text\(\)))?$/.exec(sel);
        const target = typed?.startsWith('@') ? typed : match?.[2];
        const element = match?.[1];
        const value = textOf(operation);
        if (element === 'SegmentTemplate' && target && TEMPLATE_URIS.includes(target.slice(1))) {
          addTemplate(`SegmentTemplate@${target.slice(1)}`, value, patchBase);
        } else if (target === 'text()' && ['Location', 'PatchLocation'].includes(element ?? '')) {
          add(element!, value, url, true);
        } else if (target === 'text()' && element === 'BaseURL') {
          add('patch/BaseURL', value, url);
        }
        continue;
      }
      for (const child of body) {
        const name = nameOf(child)!;
        if (name === 'BaseURL') add('patch/BaseURL', textOf(child), url);
        else if (name === 'Location' || name === 'PatchLocation') add(name, textOf(child), url, true);
        else if (name === 'Period') period(child, patchBase, undefined);
        else if (name === 'AdaptationSet') adaptationSet(child, patchBase, { values: {} }, undefined);
        else if (name === 'Representation') representation(child, patchBase, { values: {} }, undefined);
      }
    }
  }

  // A template used by several Representations whose directory holds an identifier names several
  // directories: no one directory token covers it.
  for (const [site, users] of templateUsers) {
    // A template no Representation uses here (a patch's replaced @media): expanded with stand-in values.
    if (users.size === 0) {
      for (const point of segmentPoints({ values: {} }, undefined)) {
        const expanded = resolveHttp(
          expandTemplate(site.raw, { id: 'r', bandwidth: 1, ...point }),
          templateBase.get(site)!.primary,
        );
        if (expanded) site.urls.push(expanded);
      }
    }
    const directory = site.raw.slice(0, site.raw.lastIndexOf('/') + 1);
    const perRepresentation =
      users.size === 1 ? directory.replace(/\$(RepresentationID|Bandwidth)\$/g, 'x') : directory;
    site.templatedDirectory = IDENTIFIER.test(perRepresentation);
  }
  return sites;
}

/** ISO/IEC 23009-1 §5.4: type="static" (the default) is loaded once; a patch exists only for a dynamic MPD. */
function loadedOnce(text: string, isPatch: boolean): boolean {
  if (isPatch) return false;
  const root = (documentParser.parse(text) as XmlNode[]).find((node) => nameOf(node) === 'MPD');
  return root !== undefined && attribute(root, 'type') !== 'dynamic';
}

// ---------------------------------------------------------------------------------------------------

const treeParser = new XMLParser({
  ignoreAttributes: false,
  parseTagValue: false,
  parseAttributeValue: false,
});

/** fast-xml-parser's tree with tokens taken out of every value and an upstream origin written as ours. */
function readBack(text: string, scheme: TokenScheme, upstream?: string): unknown {
  const strip = (value: unknown): unknown => {
    if (typeof value === 'string') {
      const rebased = upstream === undefined ? value : value.replaceAll(upstream, GATEWAY);
      return withoutTokens(rebased, scheme);
    }
    if (Array.isArray(value)) return value.map(strip);
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, strip(inner)]));
    }
    return value;
  };
  return strip(treeParser.parse(text));
}

// ---------------------------------------------------------------------------------------------------

interface Case {
  readonly label: string;
  readonly text: string;
  readonly url: string;
  readonly patch: boolean;
  readonly upstream?: string;
}

const INPUT = /\.(mpd|mpp)$/;
const fixtureInputs = readdirSync(FIXTURES).filter((f) => INPUT.test(f) && !f.includes('.expected.'));
const corpusFiles = readdirSync(CORPUS).filter((f) => INPUT.test(f));

/** Corpus files whose URIs are absolute on one origin: run again with it as the upstream. */
const UPSTREAMS: Readonly<Record<string, string>> = {
  'content-steering-multi-baseurl-cmcd.mpd': 'https://cloudfront.content-steering.com',
  'axinom-multidrm-period-baseurl-laurl.mpd': 'https://media.axprod.net',
  'mpeg-annexG-multi-baseurl-cdn.mpd': 'http://cdn1.example.com',
  'location-segmentbase-representationindex.mpd': 'https://www.example.com',
};

const CASES: readonly Case[] = [
  // The fixtures' context (dash-helpers MANIFEST_URL); a patch is fetched next to its MPD.
  ...fixtureInputs.map((file) => ({
    label: `fixtures/dash/${file}`,
    text: readFileSync(FIXTURES + file, 'utf8'),
    url: `${GATEWAY}/live/ch1/${file.endsWith('.mpp') ? 'patch.mpp' : 'manifest.mpd'}`,
    patch: file.endsWith('.mpp'),
  })),
  ...corpusFiles.flatMap((file) => {
    const plain = {
      label: `corpus/dash/${file}`,
      text: readFileSync(CORPUS + file, 'utf8'),
      url: `${GATEWAY}/corpus/${file}`,
      patch: file.endsWith('.mpp'),
    };
    const upstream = UPSTREAMS[file];
    if (upstream === undefined) return [plain];
    return [plain, { ...plain, label: `${plain.label} with upstream ${upstream}`, upstream }];
  }),
];

const ALL: readonly TokenStrategy[] = STRATEGIES;
const OUTSIDE: readonly TokenStrategy[] = ['forward', 'path'];

/**
 * Combinations that rightly give no token at all, each with its reason (read off the files by hand);
 * every other combination must have a token verified.
 */
const NO_TOKENS: Readonly<Record<string, NoTokens>> = {
  'fixtures/dash/mpd-level-leaf-baseurl.mpd': {
    strategies: OUTSIDE,
    why: 'its one URL, https://gw.example/vod/clip.mp4, is outside the MPD directory /live/ch1/',
  },
  'fixtures/dash/on-demand-leaf-baseurls.mpd': {
    strategies: ['forward'],
    why: 'every file is under on-demand/',
    belowDirectory: true,
  },
  'fixtures/dash/per-representation-directories.pathform.mpd': {
    strategies: ['forward'],
    why: 'every file is in a subdirectory of /live/ch1/: one per Representation, and text_en/',
    belowDirectory: true,
  },
  'fixtures/dash/segment-list-prefixed-crlf.mpd': {
    strategies: ['forward'],
    why: 'every file is under vod/',
    belowDirectory: true,
  },
  'fixtures/dash/xlink-key-alternative-mpd.mpd': {
    strategies: ['forward'],
    why: 'every URL is under /vod/show/ or /ads/, outside /live/ch1/, but for the xlink remote/adaptation-set.xml (resolved against the MPD: /live/ch1/remote/)',
    belowDirectory: true,
  },
  'corpus/dash/axinom-multidrm-period-baseurl-laurl.mpd': {
    strategies: ALL,
    why: 'the Period BaseURL is absolute on media.axprod.net',
  },
  'corpus/dash/axinom-multidrm-period-baseurl-laurl.mpd with upstream https://media.axprod.net': {
    strategies: OUTSIDE,
    why: 'the media sit under /TestVectors/…, outside /corpus/',
  },
  'corpus/dash/content-steering-multi-baseurl-cmcd.mpd': {
    strategies: ALL,
    why: 'the three BaseURLs and the steering server are absolute on content-steering.com CDNs',
  },
  'corpus/dash/content-steering-multi-baseurl-cmcd.mpd with upstream https://cloudfront.content-steering.com':
    {
      strategies: OUTSIDE,
      why: 'the media sit under /bbb/ and the steering server at /dash.dcsm, outside /corpus/',
    },
  'corpus/dash/livesim2-dynamic-patchlocation-utctiming.mpd': {
    strategies: ['forward'],
    why: 'the templates name $RepresentationID$/ subdirectories; the PatchLocation is under /patch/',
    belowDirectory: true,
  },
  'corpus/dash/location-segmentbase-representationindex.mpd': {
    strategies: ALL,
    why: 'every URL is absolute on www.example.com',
  },
  'corpus/dash/location-segmentbase-representationindex.mpd with upstream https://www.example.com': {
    strategies: OUTSIDE,
    why: 'the files sit at the root, outside /corpus/',
  },
  'corpus/dash/mpeg-annexG-mpd-patch.mpp': {
    strategies: ['forward'],
    why: 'its one URI, the PatchLocation, is under live-stream/',
    belowDirectory: true,
  },
  'corpus/dash/mpeg-annexG-multi-baseurl-cdn.mpd': {
    strategies: ALL,
    why: 'the MPD BaseURLs are absolute on cdn1.example.com and cdn2.example.com',
  },
  'corpus/dash/mpeg-annexG-multi-baseurl-cdn.mpd with upstream http://cdn1.example.com': {
    strategies: ALL,
    why: 'the files sit at the root, outside /corpus/, and every one is relative below the foreign cdn2 alternative',
  },
};

/** Defects in src/ this suite finds: each entry pins the exact violations and fails once it is fixed. */
const KNOWN: readonly KnownDefect[] = [];

describe('The token strategies on every DASH fixture and corpus manifest, checked by the verifier', () => {
  it('covers every fixture input and every corpus file', () => {
    expect(fixtureInputs.length).toBeGreaterThanOrEqual(7);
    expect(corpusFiles).toHaveLength(12);
    const labels = new Set(CASES.map((c) => c.label));
    expect(Object.keys(NO_TOKENS).filter((label) => !labels.has(label))).toEqual([]);
  });

  describe.each(CASES.map((c) => [c.label, c] as const))('%s', (_label, testCase) => {
    describe.each(STRATEGIES)('%s', (strategy) => {
      it.each(runsFor(strategy))(
        'every URL a template, BaseURL or location expands to carries a token the verifier accepts; nothing else changes (%s)',
        (_runLabel, run) => {
          const { text, upstream } = testCase;
          const signed = signManifest(testCase.url, strategy, run);
          const result = rewriteDash(text, {
            manifestUrl: signed.rewriteBase,
            tokenize: tokenizerFor(strategy, run, signed.grant, isStaticManifest('dash', text), upstream),
          });
          expect(result.malformed).toBeUndefined();

          // README "The token strategies": the output differs from the input only inside URIs.
          expect(maskUris(result.text)).toBe(maskUris(text));
          expect(readBack(result.text, run.scheme, upstream)).toEqual(readBack(text, run.scheme, upstream));

          const before = scanMpd(text, new URL(testCase.url));
          const after = scanMpd(result.text, signed.url);
          const judgement = judge(before, after, {
            strategy,
            run,
            grant: signed.grant,
            staticManifest: loadedOnce(text, testCase.patch),
            ...(upstream === undefined ? {} : { upstreamOrigin: upstream }),
          });
          expectJudgement(judgement, testCase.label, strategy, KNOWN, NO_TOKENS[testCase.label], run);
        },
      );
    });
  });
});

describe('a dynamic MPD without Location gets one to itself, with the token of a reloaded resource', () => {
  const text = readFileSync(`${FIXTURES}live-no-location.location.mpd`, 'utf8');
  const plain = `${GATEWAY}/live/ch1/manifest.mpd`;

  describe.each(STRATEGIES)('%s', (strategy) => {
    it.each(runsFor(strategy))(
      'the Location names the MPD, opens until the strategy says (mint: playlistTtl), and the rest is judged as usual (%s)',
      (_runLabel, run) => {
        const signed = signManifest(plain, strategy, run);
        const result = rewriteDash(text, {
          manifestUrl: signed.rewriteBase,
          tokenize: tokenizerFor(strategy, run, signed.grant, false),
          insertLocation: plain,
        });
        const after = scanMpd(result.text, signed.url);
        const locations = after.filter((site) => site.site === 'Location');
        expect(locations).toHaveLength(1);
        const [location] = locations[0]!.urls;
        expect(location!.origin).toBe(GATEWAY);
        expect(resourceOf(location!, run.scheme)).toBe('/live/ch1/manifest.mpd');
        expect(carriesToken(location!, run.scheme)).toBe(true);
        const expires = strategy === 'mint' ? NOW + PLAYLIST_TTL : NOW + LINK_TTL;
        const at = (now: number) => checkRequest(location!.href, checkOptions(run, now)).verdict;
        expect(at(NOW + 1).ok).toBe(true);
        expect(at(expires - 1).ok).toBe(true);
        expect(at(expires)).toMatchObject({ ok: false, status: 410 });
        // Everything else as the strategy suite above judges it.
        const judgement = judge(
          scanMpd(text, new URL(plain)),
          after.filter((site) => site.site !== 'Location'),
          { strategy, run, grant: signed.grant, staticManifest: false },
        );
        expectJudgement(judgement, 'live-no-location', strategy, KNOWN, undefined, run);
      },
    );
  });
});

describe('forwardUncovered covers a directory per Representation with the viewer token, never longer', () => {
  const text = readFileSync(`${FIXTURES}per-representation-directories.pathform.mpd`, 'utf8');
  const plain = `${GATEWAY}/live/ch1/manifest.mpd`;
  const remedies = ['path', 'mint'] as const;

  describe.each(remedies)('forwardUncovered: %s', (remedy) => {
    const runs = runsFor('forward').filter(([, run]) => remedy === 'mint' || run.scheme.pathTokens);
    it.each(runs)(
      'every URL carries a token that opens it until the viewer token expires (%s)',
      (_label, run) => {
        const signed = signManifest(plain, 'forward', run);
        const result = rewriteDash(text, {
          manifestUrl: signed.rewriteBase,
          tokenize: tokenizerFor('forward', run, signed.grant, true, undefined, remedy),
        });
        const before = scanMpd(text, new URL(plain));
        const after = scanMpd(result.text, signed.url);
        expect(after.map((site) => site.site)).toEqual(before.map((site) => site.site));
        let checked = 0;
        after.forEach((site, i) => {
          site.urls.forEach((url, k) => {
            const at = (now: number) => checkRequest(url.href, checkOptions(run, now)).verdict;
            expect(resourceOf(url, run.scheme), url.href).toBe(resourceOf(before[i]!.urls[k]!, run.scheme));
            expect(at(NOW + 1).ok, url.href).toBe(true);
            expect(at(signed.grant.expires - 1).ok, url.href).toBe(true);
            expect(at(signed.grant.expires), url.href).toMatchObject({ ok: false, status: 410 });
            checked += 1;
          });
        });
        expect(checked).toBeGreaterThan(10);
      },
    );
  });
});
