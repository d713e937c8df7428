import type { ResourceClass } from '../types.js';

/**
 * How a site's relative URI is resolved (ISO/IEC 23009-1 §5.6 and what dash.js / shaka do):
 * - `parent-base`: a BaseURL, against the effective BaseURL of the level above it;
 * - `level-base`: a segment URL, against the effective BaseURL of the level it sits in;
 * - `manifest`: against the URL the MPD was fetched at (shaka resolves `Location` and `xlink:href`
 *   against the final manifest URI);
 * - `document`: against the document base: the first `Location` if there is one, else the MPD's URL.
 *   shaka makes the Locations the manifest base at once; dash.js 5 keeps the URL it fetched until its
 *   next reload, which it makes from the Location, so both agree from the first refresh on.
 */
export type DashResolution = 'parent-base' | 'level-base' | 'manifest' | 'document';

export interface DashUriSite {
  /** The name reported in `UriTarget.site` and `SkippedUri.site`. */
  readonly site: string;
  /** Local name of the element that carries the URI (namespace prefixes are ignored). */
  readonly element: string;
  /** For BaseURL rows: the local name of the level element it belongs to. */
  readonly level?: 'MPD' | 'Period' | 'AdaptationSet' | 'Representation';
  /** Qualified attribute name, or `text` for the element's character content. */
  readonly value: { readonly attribute: string } | 'text';
  readonly resource: ResourceClass;
  /**
   * ISO/IEC 23009-1 §5.3.9.4.4 template: `$` is special (`$$` is a literal `$`), and a value with an
   * identifier names files that may not exist yet (the tokenizer is asked for a directory grant).
   */
  readonly template: boolean;
  /** A segment request: covered by an Annex I UrlQueryInfo in `urlParam` mode. */
  readonly segment: boolean;
  readonly resolution: DashResolution;
  /** Only where this attribute of the same element matches (e.g. UTCTiming's scheme says URL). */
  readonly when?: { readonly attribute: string; readonly matches: RegExp };
}

const baseUrl = (level: NonNullable<DashUriSite['level']>): DashUriSite => ({
  site: `${level}/BaseURL`,
  element: 'BaseURL',
  level,
  value: 'text',
  resource: 'media',
  template: false,
  segment: true,
  resolution: 'parent-base',
});

const segmentAttribute = (element: string, attribute: string, template: boolean): DashUriSite => ({
  site: `${element}@${attribute}`,
  element,
  value: { attribute },
  resource: 'media',
  template,
  segment: true,
  resolution: 'level-base',
});

/**
 * Every URI-bearing construct of an MPD (README "The token strategies") and of an MPD Patch body. BaseURLs ending in `/` are
 * directories that are never fetched themselves and get no query token (a query on a directory is
 * dropped when children are resolved against it, RFC 3986 §5.2.2); they are still offered to the
 * tokenizer, so that one naming the upstream origin is pointed at the gateway, and a path token
 * (README "Token rules") goes into them for the relative URIs below to inherit.
 */
export const DASH_URI_SITES: readonly DashUriSite[] = [
  baseUrl('MPD'),
  baseUrl('Period'),
  baseUrl('AdaptationSet'),
  baseUrl('Representation'),
  segmentAttribute('SegmentTemplate', 'media', true),
  segmentAttribute('SegmentTemplate', 'initialization', true),
  segmentAttribute('SegmentTemplate', 'index', true),
  segmentAttribute('SegmentTemplate', 'bitstreamSwitching', true),
  segmentAttribute('SegmentURL', 'media', false),
  segmentAttribute('SegmentURL', 'index', false),
  segmentAttribute('Initialization', 'sourceURL', false),
  segmentAttribute('RepresentationIndex', 'sourceURL', false),
  segmentAttribute('BitstreamSwitching', 'sourceURL', false),
  // The next MPD: reloaded by the player, so it gets the playlist lifetime.
  {
    site: 'Location',
    element: 'Location',
    value: 'text',
    resource: 'playlist',
    template: false,
    segment: false,
    resolution: 'manifest',
  },
  {
    site: 'PatchLocation',
    element: 'PatchLocation',
    value: 'text',
    resource: 'playlist',
    template: false,
    segment: false,
    resolution: 'document',
  },
  // Beyond the README's list of URI sites. DASH-IF content steering (the counterpart of HLS EXT-X-CONTENT-STEERING
  // SERVER-URI): the steering server's DCSM, inside ServiceDescription or at MPD level, is reloaded for
  // as long as the player plays, hence the playlist lifetime.
  {
    site: 'ContentSteering',
    element: 'ContentSteering',
    value: 'text',
    resource: 'playlist',
    template: false,
    segment: false,
    resolution: 'document',
  },
  // ISO/IEC 23009-1 §5.8.5.7: for the HTTP time schemes the value is the URL of a time server. On the
  // gateway it needs a token like anything else (dash.js fetches it again every 30–600 s, hence the
  // playlist lifetime); `direct` and the NTP/SNTP schemes carry a date or a host name, never touched.
  {
    site: 'UTCTiming@value',
    element: 'UTCTiming',
    value: { attribute: 'value' },
    resource: 'playlist',
    template: false,
    segment: false,
    resolution: 'document',
    when: {
      attribute: 'schemeIdUri',
      matches: /^urn:mpeg:dash:utc:http-(?:xsdate|iso|ntp|head)(?:-ms)?:201[24]$/,
    },
  },
  // A remote element (Period, AdaptationSet, SegmentList, EventStream, …:
  // ISO/IEC 23009-1 §5.5) is fetched from the gateway like the MPD itself; `onRequest` ones may be
  // fetched long after the MPD, hence the playlist lifetime.
  {
    site: '@xlink:href',
    element: '*',
    value: { attribute: 'xlink:href' },
    resource: 'playlist',
    template: false,
    segment: false,
    resolution: 'manifest',
  },
  // ISO/IEC 23009-4 segment encryption: the key URL, the DASH counterpart of an HLS EXT-X-KEY.
  {
    site: 'CryptoPeriod@keyUriTemplate',
    element: 'CryptoPeriod',
    value: { attribute: 'keyUriTemplate' },
    resource: 'media',
    template: true,
    segment: false,
    resolution: 'level-base',
  },
  // 6th edition alternative-MPD events (`urn:mpeg:dash:event:alternativeMPD:replace:2025`): another MPD.
  {
    site: 'ReplacePresentation@url',
    element: 'ReplacePresentation',
    value: { attribute: 'url' },
    resource: 'playlist',
    template: false,
    segment: false,
    resolution: 'document',
  },
];

const XLINK_NS = 'http://www.w3.org/1999/xlink';
export { XLINK_NS };

/** Element local names whose BaseURL children make a level. */
export const LEVELS: ReadonlySet<string> = new Set(['MPD', 'Period', 'AdaptationSet', 'Representation']);
