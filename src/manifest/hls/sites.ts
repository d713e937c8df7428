import type { ResourceClass } from '../types.js';

/**
 * Where a URI sits in an HLS playlist:
 * - `uri-line`: the next URI line after the tag (RFC 8216 §4.1: any line that is not blank and does not
 *   start with `#`), with comments, blank lines and other tags allowed in between;
 * - `attribute`: the value of one attribute in the tag's attribute list (RFC 8216 §4.2);
 * - `tag-value`: everything after the tag's colon.
 */
export type HlsSitePlace = 'uri-line' | 'attribute' | 'tag-value';

/** One URI-bearing construct of HLS: a row of the rewriter's data table. */
export interface HlsUriSite {
  /** The name handed to the tokenizer as `UriTarget.site` and reported in `skipped`. */
  readonly site: string;
  /** The tag, without the leading `#`. */
  readonly tag: string;
  readonly place: HlsSitePlace;
  /** For `attribute` sites: the exact attribute name. */
  readonly attribute?: string;
  readonly resource: ResourceClass;
  /** The resource may not exist yet when the playlist is served (LL-HLS), so grant its directory. */
  readonly wildcard: boolean;
  /** Where the construct is defined. */
  readonly spec: string;
}

/**
 * Every construct that carries a URI a player fetches from the playlist's origin. Section numbers are
 * from draft-pantos-hls-rfc8216bis-17, with RFC 8216 in brackets where it has the tag. Client
 * attributes (`X-…`) of EXT-X-DATERANGE other than the two interstitial ones are deliberately absent:
 * they hold tracking URLs of third parties.
 */
export const HLS_URI_SITES: readonly HlsUriSite[] = Object.freeze([
  // A URI line that follows no EXT-X-STREAM-INF is a media segment, whatever precedes it.
  {
    site: 'segment',
    tag: 'EXTINF',
    place: 'uri-line',
    resource: 'media',
    wildcard: false,
    spec: '§4.4.4.1 [4.3.2.1]',
  },
  {
    site: 'variant',
    tag: 'EXT-X-STREAM-INF',
    place: 'uri-line',
    resource: 'playlist',
    wildcard: false,
    spec: '§4.4.6.2 [4.3.4.2]',
  },
  {
    site: 'EXT-X-MEDIA@URI',
    tag: 'EXT-X-MEDIA',
    place: 'attribute',
    attribute: 'URI',
    resource: 'playlist',
    wildcard: false,
    spec: '§4.4.6.1 [4.3.4.1]',
  },
  {
    site: 'EXT-X-I-FRAME-STREAM-INF@URI',
    tag: 'EXT-X-I-FRAME-STREAM-INF',
    place: 'attribute',
    attribute: 'URI',
    resource: 'playlist',
    wildcard: false,
    spec: '§4.4.6.3 [4.3.4.3]',
  },
  {
    site: 'EXT-X-IMAGE-STREAM-INF@URI',
    tag: 'EXT-X-IMAGE-STREAM-INF',
    place: 'attribute',
    attribute: 'URI',
    resource: 'playlist',
    wildcard: false,
    spec: 'Roku image playlists (not in rfc8216bis)',
  },
  {
    site: 'EXT-X-MAP@URI',
    tag: 'EXT-X-MAP',
    place: 'attribute',
    attribute: 'URI',
    resource: 'media',
    wildcard: false,
    spec: '§4.4.4.5 [4.3.2.5]',
  },
  {
    site: 'EXT-X-KEY@URI',
    tag: 'EXT-X-KEY',
    place: 'attribute',
    attribute: 'URI',
    resource: 'media',
    wildcard: false,
    spec: '§4.4.4.4 [4.3.2.4]',
  },
  {
    site: 'EXT-X-SESSION-KEY@URI',
    tag: 'EXT-X-SESSION-KEY',
    place: 'attribute',
    attribute: 'URI',
    resource: 'media',
    wildcard: false,
    spec: '§4.4.6.5 [4.3.4.5]',
  },
  {
    site: 'EXT-X-SESSION-DATA@URI',
    tag: 'EXT-X-SESSION-DATA',
    place: 'attribute',
    attribute: 'URI',
    resource: 'media',
    wildcard: false,
    spec: '§4.4.6.4 [4.3.4.4]',
  },
  {
    site: 'EXT-X-PART@URI',
    tag: 'EXT-X-PART',
    place: 'attribute',
    attribute: 'URI',
    resource: 'media',
    wildcard: true,
    spec: '§4.4.4.9',
  },
  {
    site: 'EXT-X-PRELOAD-HINT@URI',
    tag: 'EXT-X-PRELOAD-HINT',
    place: 'attribute',
    attribute: 'URI',
    resource: 'media',
    wildcard: true,
    spec: '§4.4.5.3',
  },
  {
    site: 'EXT-X-RENDITION-REPORT@URI',
    tag: 'EXT-X-RENDITION-REPORT',
    place: 'attribute',
    attribute: 'URI',
    resource: 'playlist',
    wildcard: false,
    spec: '§4.4.5.4',
  },
  {
    // The steering manifest is reloaded every TTL seconds, like a playlist.
    site: 'EXT-X-CONTENT-STEERING@SERVER-URI',
    tag: 'EXT-X-CONTENT-STEERING',
    place: 'attribute',
    attribute: 'SERVER-URI',
    resource: 'playlist',
    wildcard: false,
    spec: '§4.4.6.6',
  },
  {
    site: 'EXT-X-DATERANGE@X-ASSET-URI',
    tag: 'EXT-X-DATERANGE',
    place: 'attribute',
    attribute: 'X-ASSET-URI',
    resource: 'playlist',
    wildcard: false,
    spec: 'Appendix D (interstitials)',
  },
  {
    site: 'EXT-X-DATERANGE@X-ASSET-LIST',
    tag: 'EXT-X-DATERANGE',
    place: 'attribute',
    attribute: 'X-ASSET-LIST',
    resource: 'media',
    wildcard: false,
    spec: 'Appendix D (interstitials)',
  },
  {
    site: 'EXT-X-PREFETCH',
    tag: 'EXT-X-PREFETCH',
    place: 'tag-value',
    resource: 'media',
    wildcard: false,
    spec: 'community LHLS (ffmpeg -lhls), not in rfc8216bis',
  },
] satisfies HlsUriSite[]);

/** What the scanner needs to know about one tag name. */
export interface TagRule {
  /** Sites held in this tag's attribute list. */
  readonly attributes: readonly HlsUriSite[];
  /** The site of the tag's whole value. */
  readonly value?: HlsUriSite;
  /** The site of the next URI line. */
  readonly nextLine?: HlsUriSite;
}

function buildRules(sites: readonly HlsUriSite[]): ReadonlyMap<string, TagRule> {
  const rules = new Map<string, { attributes: HlsUriSite[]; value?: HlsUriSite; nextLine?: HlsUriSite }>();
  for (const site of sites) {
    let rule = rules.get(site.tag);
    if (rule === undefined) {
      rule = { attributes: [] };
      rules.set(site.tag, rule);
    }
    if (site.place === 'attribute') rule.attributes.push(site);
    else if (site.place === 'tag-value') rule.value = site;
    else rule.nextLine = site;
  }
  return rules;
}

export const TAG_RULES: ReadonlyMap<string, TagRule> = buildRules(HLS_URI_SITES);

/** The site of a URI line that follows no tag with a `uri-line` row: a media segment. */
export const DEFAULT_LINE_SITE: HlsUriSite = HLS_URI_SITES.find((row) => row.site === 'segment')!;
