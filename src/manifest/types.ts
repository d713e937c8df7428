import type { LimitExceeded, ManifestLimits } from './limits.js';

/**
 * The contract between the pure manifest rewriters (HLS, DASH) and whoever decides what token a URI
 * gets (the strategies in src/tokens/strategy.ts). The rewriters find URI sites, resolve them and splice
 * edits into the original text; they know nothing about token formats, secrets or clocks.
 */

/**
 * What a URI points at, which decides the token's lifetime in `mint` mode:
 * `playlist` resources are reloaded by players (media playlists, MPD refresh locations) and get the
 * playlist TTL; everything else is fetched once and gets the short segment TTL.
 */
export type ResourceClass = 'playlist' | 'media';

/** A URI found in a manifest, as handed to the tokenizer. */
export interface UriTarget {
  /** Name of the site in the rewriter's table, e.g. `EXT-X-MAP@URI`, `segment`, `SegmentTemplate@media`. */
  readonly site: string;
  readonly resource: ResourceClass;
  /**
   * The absolute URL the player will request, resolved against the URL the manifest was requested at
   * (and, for DASH, the BaseURL chain), after HLS variable substitution. For templates (DASH
   * `$Number$`…) it is the URL with the template text still in it. It may be built on first read:
   * tokenizers that need only the origin and path should read `origin` and `pathname`.
   */
  readonly url: URL;
  /** `url.origin`, available without building the URL. */
  readonly origin: string;
  /** `url.pathname` (percent-encoded as WHATWG URL writes it), available without building the URL. */
  readonly pathname: string;
  /**
   * True when the URI names files that do not exist yet or many files at once (DASH templates, LL-HLS
   * preload hints and parts): a per-file token cannot work, the tokenizer should grant the directory.
   */
  readonly wildcard: boolean;
  /**
   * True when text the viewer chose decides where the URI points (its scheme, host or path): an HLS
   * variable defined by `QUERYPARAM` takes its value from the query of the playlist URL the viewer
   * requested (RFC 8216bis §4.4.2.3). Such a target must never widen what the viewer may open: the
   * tokenizer grants it only what the viewer's own token already covers. Text the viewer chose in the
   * query or fragment alone does not count (the path is then the origin's).
   */
  readonly viewerControlled?: boolean;
  /**
   * Players keep this URI where a query breaks (ffmpeg 5.1's DASH demuxer re-parses BaseURL text as
   * XML, so `&` starts an entity, and appends `/`): a path-embedded token is preferred where the
   * scheme has one.
   */
  readonly preferPathToken?: boolean;
}

/**
 * A query-string grant: these parameters are appended (replacing any of the same names already there).
 * With no parameters it only moves an absolute URI to `rebaseTo` (a token that travels beside URLs).
 */
export interface QueryGrant {
  readonly kind: 'query';
  /** Names and values, already percent-encoded as they must appear in the URI. */
  readonly params: ReadonlyArray<readonly [name: string, value: string]>;
  /** See {@link PathGrant.rebaseTo}. */
  readonly rebaseTo?: string;
}

/**
 * A path grant (path-embedded tokens, README "Token rules"): `segment` is inserted into the URI's path right after
 * the prefix `afterPath` (a decoded path ending in `/`). Relative URIs inherit a path token and are left
 * alone by the rewriter's caller: the tokenizer returns `undefined` for them.
 */
export interface PathGrant {
  readonly kind: 'path';
  /** Decoded path prefix ending in `/`; the segment goes after as many path segments as it has. */
  readonly afterPath: string;
  /** The path segment to insert, without slashes, e.g. `~token~1700000000`. */
  readonly segment: string;
  /**
   * The resolved path of the URI (`UriTarget.pathname`). A relative URI that climbs out of the
   * token's directory (`../1M/chunks.m3u8`) no longer inherits the path token: it is written
   * root-relative from this path, with the segment inserted.
   */
  readonly resolvedPath?: string;
  /**
   * When set (`http://gateway.example:8080`), an absolute URI's scheme and authority are replaced by
   * it: a manifest that names the upstream origin absolutely must send the player to the gateway.
   */
  readonly rebaseTo?: string;
  /**
   * The manifest's own URL does not carry this token (a path-form token minted or forwarded for this
   * URI alone): a relative reference does not inherit it, and gets the segment inserted as well.
   */
  readonly insertIntoRelative?: boolean;
}

export type TokenGrant = QueryGrant | PathGrant;

/**
 * Grants for plain file names in one directory: for `name` (RFC 3986 pchar only, without `%` and `/`,
 * not `.` or `..`), exactly what the tokenizer gives the non-wildcard target `origin + directory + name`.
 */
export type NameTokenizer = (name: string, resource: ResourceClass) => TokenGrant | undefined;

/**
 * Decides the token for one URI. `undefined` leaves the URI byte-for-byte as it was (foreign host,
 * outside the incoming token's scope, …). Must not throw.
 */
export interface Tokenizer {
  (target: UriTarget): TokenGrant | undefined;
  /**
   * Optional shortcut for the bulk of a long playlist, its file names next to it: a NameTokenizer for
   * `directoryPath` (percent-encoded as in a URL, ending in `/`) on `origin`, or undefined when the
   * tokenizer has none for it. It spares building a target and judging its path once per segment.
   */
  forDirectory?(origin: string, directoryPath: string): NameTokenizer | undefined;
}

/** Why a URI site was left alone; reported so the gateway can log it at debug level. */
export interface SkippedUri {
  readonly site: string;
  readonly uri: string;
  readonly reason: 'data-uri' | 'non-http-scheme' | 'unresolved-variable' | 'unparseable' | 'declined';
}

export interface RewriteOptions {
  /** The absolute URL the client requested the manifest at (the gateway's public URL, token included). */
  readonly manifestUrl: URL;
  readonly tokenize: Tokenizer;
  /** Safety limits (DEFAULT_MANIFEST_LIMITS when absent). */
  readonly limits?: ManifestLimits;
}

export interface RewriteResult {
  readonly text: string;
  /** Number of URI occurrences that received a token. */
  readonly rewritten: number;
  readonly skipped: readonly SkippedUri[];
  /** Set when the input was not recognisably a manifest of this format; `text` is then the input. */
  readonly malformed?: string;
  /** Set when the input exceeds a safety limit (see ManifestLimits); `text` is then the input. */
  readonly limit?: LimitExceeded;
}
