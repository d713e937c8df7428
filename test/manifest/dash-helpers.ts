/**
 * Checks for the DASH rewriter's output that do not share code with the rewriter: a regex mask of the
 * URI-bearing values, a fast-xml-parser tree with token parameters stripped, and a template expander.
 */
import { XMLParser } from 'fast-xml-parser';
import type { TokenGrant, Tokenizer, UriTarget } from '../../src/manifest/types.js';

export const MANIFEST_URL = new URL('https://gw.example/live/ch1/manifest.mpd');

/**
 * The fixed test tokenizer: same-host playlists get `tok=P`, templates naming many files `tok=W`, other
 * media `tok=T`; any other host is declined.
 */
export function testTokenizer(host = 'gw.example', seen?: UriTarget[]): Tokenizer {
  return (target: UriTarget): TokenGrant | undefined => {
    seen?.push(target);
    if (target.url.host !== host) return undefined;
    const value = target.resource === 'playlist' ? 'P' : target.wildcard ? 'W' : 'T';
    return { kind: 'query', params: [['tok', value]] };
  };
}

/**
 * The test tokenizer, but in path form (`~W~9` after the directory) where the strategies use it: for a
 * template whose directory is itself templated (after the directory above the first identifier) and
 * for a site that prefers a path token (a leaf BaseURL; after its own directory).
 */
export function pathFormTokenizer(host = 'gw.example', seen?: UriTarget[]): Tokenizer {
  const plain = testTokenizer(host, seen);
  return (target: UriTarget): TokenGrant | undefined => {
    const grant = plain(target);
    if (grant === undefined) return undefined;
    const path = target.pathname;
    const dollar = path.indexOf('$');
    const templated = target.wildcard && dollar !== -1 && dollar < path.lastIndexOf('/');
    if (!templated && !target.preferPathToken) return grant;
    const end = templated ? path.lastIndexOf('/', dollar) + 1 : path.lastIndexOf('/') + 1;
    const value = target.resource === 'playlist' ? 'P' : target.wildcard ? 'W' : 'T';
    return {
      kind: 'path',
      afterPath: path.slice(0, end),
      segment: `~${value}~9`,
      resolvedPath: path,
      insertIntoRelative: true,
    };
  };
}

const URI_ATTRIBUTE =
  /(\s(?:media|initialization|index|bitstreamSwitching|sourceURL|keyUriTemplate|url|[A-Za-z_][\w.-]*:href)\s*=\s*)("[^"]*"|'[^']*')/g;
const URI_TEXT =
  /(<((?:[A-Za-z_][\w.-]*:)?(?:BaseURL|Location|PatchLocation|ContentSteering))(?:\s[^>]*)?>)([\s\S]*?)(<\/\2\s*>)/g;
const OPERATION_TEXT = /(<replace\s[^>]*sel="[^"]*(?:@media|text\(\))"[^>]*>)([^<]*)(<\/replace>)/g;

/** Replaces every URI-bearing value with a placeholder, found by a scan independent of the rewriter. */
const UTC_TIMING_VALUE = /(<(?:[A-Za-z_][\w.-]*:)?UTCTiming\s[^>]*?\svalue\s*=\s*)("[^"]*"|'[^']*')/g;

export function maskUris(text: string): string {
  return text
    .replace(UTC_TIMING_VALUE, '$1"#URI#"')
    .replace(URI_ATTRIBUTE, '$1"#URI#"')
    .replace(URI_TEXT, '$1#URI#$4')
    .replace(OPERATION_TEXT, '$1#URI#$3');
}

const URI_ATTRIBUTE_KEYS = new Set([
  '@_media',
  '@_initialization',
  '@_index',
  '@_bitstreamSwitching',
  '@_sourceURL',
  '@_keyUriTemplate',
  '@_url',
  '@_value',
]);
const URI_TEXT_ELEMENTS = new Set(['BaseURL', 'Location', 'PatchLocation', 'ContentSteering', 'replace']);
const TOKEN_PARAM = /[?&]tok=[TPWU](?=$|#)/;
const PATH_TOKEN = /(^|\/)~[TPW]~9\//;

export function stripToken(uri: string): string {
  return uri.replace(TOKEN_PARAM, '').replace(PATH_TOKEN, '$1');
}

function localName(key: string): string {
  return key.slice(key.indexOf(':') + 1);
}

function normalise(node: unknown, key: string): unknown {
  const uriText = URI_TEXT_ELEMENTS.has(localName(key));
  if (typeof node === 'string') return uriText ? stripToken(node) : node;
  if (Array.isArray(node)) return node.map((item) => normalise(item, key));
  if (node !== null && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      if (typeof v === 'string' && (URI_ATTRIBUTE_KEYS.has(k) || k.endsWith(':href'))) out[k] = stripToken(v);
      else if (k === '#text' && uriText && typeof v === 'string') out[k] = stripToken(v);
      else out[k] = normalise(v, k);
    }
    return out;
  }
  return node;
}

const treeParser = new XMLParser({
  ignoreAttributes: false,
  parseTagValue: false,
  parseAttributeValue: false,
});

/** The element tree as fast-xml-parser reads it, with our token parameters removed from URI values. */
export function normalisedTree(text: string): unknown {
  return normalise(treeParser.parse(text), '');
}

// ISO/IEC 23009-1 §5.3.9.4.4 identifiers, matched left to right as players do.
const IDENTIFIER = /\$(RepresentationID|Number|SubNumber|Bandwidth|Time)?(?:%0(\d+)([diouxX]))?\$/g;

export interface TemplateValues {
  readonly id: string;
  readonly bandwidth: number;
  readonly number: number;
  readonly time: number;
}

export function expandTemplate(template: string, values: TemplateValues): string {
  return template.replace(IDENTIFIER, (_match, name: string | undefined, width?: string, type?: string) => {
    if (name === undefined) return '$';
    if (name === 'RepresentationID') return values.id;
    const value =
      name === 'Number'
        ? values.number
        : name === 'Bandwidth'
          ? values.bandwidth
          : name === 'Time'
            ? values.time
            : 1;
    const digits =
      type === 'x'
        ? value.toString(16)
        : type === 'X'
          ? value.toString(16).toUpperCase()
          : type === 'o'
            ? value.toString(8)
            : String(value);
    return width === undefined ? digits : digits.padStart(Number(width), '0');
  });
}

type Node = Record<string, unknown>;

const templateParser = new XMLParser({
  ignoreAttributes: false,
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  isArray: (name) =>
    ['Period', 'AdaptationSet', 'Representation', 'SegmentTemplate', 'S', 'add'].includes(name),
});

function asNodes(value: unknown): Node[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter(
    (v): v is Node => typeof v === 'object' && v !== null,
  );
}

export interface TemplateUse {
  readonly attribute: string;
  readonly template: string;
  /** Expansions for the first, a middle and the last segment of each Representation it applies to. */
  readonly urls: readonly string[];
}

function segmentPoints(template: Node): Array<{ number: number; time: number }> {
  const start = Number(template['@_startNumber'] ?? 1);
  const timeline = asNodes((template['SegmentTimeline'] as Node | undefined)?.['S']);
  if (timeline.length > 0) {
    const times: number[] = [];
    let t = 0;
    for (const s of timeline) {
      if (s['@_t'] !== undefined) t = Number(s['@_t']);
      const d = Number(s['@_d']);
      const repeat = Number(s['@_r'] ?? 0);
      for (let k = 0; k <= Math.max(0, repeat); k += 1) {
        times.push(t);
        t += d;
      }
    }
    const picks = [0, Math.floor(times.length / 2), times.length - 1];
    return picks.map((i) => ({ number: start + i, time: times[i]! }));
  }
  const duration = Number(template['@_duration'] ?? 1);
  return [0, 499, 999].map((i) => ({ number: start + i, time: i * duration }));
}

/** Every SegmentTemplate attribute of a document, expanded for the Representations it applies to. */
export function templateUses(text: string): TemplateUse[] {
  const uses: TemplateUse[] = [];
  const visit = (node: Node, representations: Node[]): void => {
    for (const template of asNodes(node['SegmentTemplate'])) {
      for (const attribute of ['media', 'initialization', 'index', 'bitstreamSwitching']) {
        const value = template[`@_${attribute}`];
        if (typeof value !== 'string') continue;
        const urls: string[] = [];
        const reps = representations.length > 0 ? representations : [{ '@_id': 'r', '@_bandwidth': '1' }];
        for (const rep of reps) {
          for (const point of segmentPoints(template)) {
            urls.push(
              expandTemplate(value, {
                id: String(rep['@_id']),
                bandwidth: Number(rep['@_bandwidth']),
                ...point,
              }),
            );
          }
        }
        uses.push({ attribute, template: value, urls });
      }
    }
  };
  const walk = (node: Node, name: string): void => {
    const representations =
      name === 'Representation'
        ? [node]
        : name === 'AdaptationSet' || name === 'add'
          ? asNodes(node['Representation'])
          : name === 'Period'
            ? asNodes(node['AdaptationSet']).flatMap((a) => asNodes(a['Representation']))
            : [];
    visit(node, representations);
    for (const child of ['Period', 'AdaptationSet', 'Representation', 'add']) {
      for (const sub of asNodes(node[child])) walk(sub, child);
    }
  };
  const doc = templateParser.parse(text) as Node;
  for (const rootName of ['MPD', 'Patch']) for (const root of asNodes(doc[rootName])) walk(root, rootName);
  return uses;
}
