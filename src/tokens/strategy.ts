import type { NameTokenizer, ResourceClass, Tokenizer, TokenGrant, UriTarget } from '../manifest/types.js';
import { canonicalRequestPath, directoryOf, MAX_PATH_LENGTH } from './path.js';
import { ownPathGrant, templatedDirectoryPrefix } from './path-form.js';
import type { SignTarget, TokenScheme } from './scheme.js';
import type { Grant } from './verdict.js';

/**
 * How nested URIs in a manifest get their tokens (README "The token strategies"). `cookie`: none — the entry manifest's
 * response sets a directory-scoped cookie holding a token, which the player sends back.
 */
export type TokenStrategy = 'forward' | 'mint' | 'path' | 'cookie';

/**
 * What `forward` does with a URI on the gateway that the viewer's token does not open (a rendition in
 * a subdirectory of a directory token's): `leave` it without a token (players get 403), write the
 * viewer's directory token in `path` form (`/dir/~TOKEN~EXPIRES/sub/…`, README "Token rules": the same signature
 * opens the subtree), or `mint` a token for it that expires with the viewer's.
 */
export type ForwardUncovered = 'leave' | 'path' | 'mint';

export interface StrategyContext {
  readonly strategy: TokenStrategy;
  readonly scheme: TokenScheme;
  /** The key new tokens are signed with (the zone's first key). */
  readonly signingKey: string;
  /** The verdict of the manifest request: its token's scope, expiry and IP. */
  readonly incoming: Grant;
  /** Unix seconds. */
  readonly now: number;
  /** Lifetime of minted tokens for resources a player reloads (media playlists, MPD locations). */
  readonly playlistTtl: number;
  /** Lifetime of minted tokens for segments, parts, keys, init sections and subtitles. */
  readonly segmentTtl: number;
  /**
   * The manifest is static (HLS ENDLIST / VOD, DASH type="static"): the player loads it once and may
   * ask for any of its segments at any time while it plays, so its media gets the playlist lifetime.
   */
  readonly staticManifest?: boolean;
  /** The gateway's origin as the client reached it (`https://cdn.example.com`). URIs there get tokens. */
  readonly publicOrigin: string;
  /**
   * The upstream origin (`http://10.0.0.5:8081`). Absolute URIs naming it get tokens and are pointed at
   * `publicOrigin`, so a player never goes around the gateway. Any other host is left alone: a token is
   * never sent to a third party.
   */
  readonly upstreamOrigin?: string;
  /** forward only; default `leave`. */
  readonly forwardUncovered?: ForwardUncovered;
  /**
   * Where the viewer's token came: a token from a cookie or a request header comes again with every
   * nested request, so `forward` does not copy it into URLs (where page scripts, players' logs and
   * Referer headers would see a credential its transport keeps out of them).
   */
  readonly incomingVia?: 'query' | 'path' | 'cookie' | 'header';
}

/** A tokenizer that also tells what it could not cover, for one warning per manifest. */
export interface StrategyTokenizer extends Tokenizer {
  /**
   * URIs on the gateway left without a token: forward, the viewer's token does not open them; mint,
   * no token the zone accepts opens them (a template naming one directory per Representation, in a
   * zone whose directory tokens open only files directly in the directory and that takes no path
   * tokens).
   */
  readonly uncovered: number;
  /** The decoded path of the first of them (a path, never a token: safe to log). */
  readonly firstUncovered: string | undefined;
}

// Printable ASCII without `%`, `/` and `\`: a file name that decodes to itself.
const PLAIN_NAME = /^[\x21-\x24\x26-\x2e\x30-\x5b\x5d-\x7e]+$/;

function tokenGrant(scheme: TokenScheme, token: string, expires: number, rebaseTo?: string): TokenGrant {
  // No spread: mint builds one grant per URI, and a 10,000-segment playlist feels every allocation.
  const params = scheme.queryParams(token, expires);
  return rebaseTo === undefined ? { kind: 'query', params } : { kind: 'query', params, rebaseTo };
}

/** Builds the tokenizer the rewriters call for each URI of one manifest response. */
export function createTokenizer(context: StrategyContext): StrategyTokenizer {
  const { scheme, incoming } = context;
  const upstream = context.upstreamOrigin;
  const remedy = context.strategy === 'forward' ? (context.forwardUncovered ?? 'leave') : 'leave';
  let uncovered = 0;
  let firstUncovered: string | undefined;
  const noteUncovered = (path: string): undefined => {
    uncovered += 1;
    firstUncovered ??= path;
    return undefined;
  };

  // The path is judged as the gateway will judge the request it leads to; one the gateway would refuse
  // gets no token. A playlist's URIs mostly share one directory: its decoding is remembered, and a
  // plain file name in it needs no further work.
  let lastRawDirectory: string | undefined;
  let lastDirectory = '';
  const decodedPath = (rawPath: string): string | undefined => {
    const slash = rawPath.lastIndexOf('/');
    const name = rawPath.slice(slash + 1);
    if (
      rawPath.length - name.length === lastRawDirectory?.length &&
      rawPath.length <= MAX_PATH_LENGTH &&
      rawPath.startsWith(lastRawDirectory)
    ) {
      if (name === '' || (PLAIN_NAME.test(name) && name !== '.' && name !== '..'))
        return lastDirectory + name;
    }
    const checked = canonicalRequestPath(rawPath);
    if (!checked.ok) return undefined;
    lastRawDirectory = rawPath.slice(0, slash + 1);
    lastDirectory = directoryOf(checked.path);
    return checked.path;
  };

  // A path token opens its directory's whole subtree (README "Token rules"); other scopes are the scheme's to judge.
  const incomingCovers = (path: string): boolean =>
    incoming.scope === 'path' ? path.startsWith(incoming.signedPath) : scheme.covers(incoming, path);

  // Forwarding hands every covered URI the same parameters.
  const forwarded = tokenGrant(scheme, incoming.token, incoming.expires);
  const forwardedRebased = tokenGrant(scheme, incoming.token, incoming.expires, context.publicOrigin);

  // The viewer's directory token written in the path opens the directory's subtree (README "Token rules").
  const viewerPathForm =
    scheme.pathTokens && incoming.scope === 'directory' ? incoming.signedPath : undefined;

  const forward = (
    path: string,
    rebaseTo: string | undefined,
    target?: UriTarget,
  ): TokenGrant | undefined => {
    // A templated directory is never one file's directory: only a prefix scope or the path form opens it.
    const templated = target?.wildcard === true && path.includes('$');
    if ((!templated || !scheme.pathTokens) && scheme.covers(incoming, path)) {
      if (target?.preferPathToken && viewerPathForm !== undefined) {
        return ownPathGrant(viewerPathForm, incoming.token, incoming.expires, target.pathname, rebaseTo);
      }
      return rebaseTo === undefined ? forwarded : forwardedRebased;
    }
    if (remedy === 'path' && viewerPathForm !== undefined && path.startsWith(viewerPathForm)) {
      const resolved = target?.pathname ?? path;
      return ownPathGrant(viewerPathForm, incoming.token, incoming.expires, resolved, rebaseTo);
    }
    if (remedy === 'mint') {
      const minted = mint(path, target?.resource ?? 'media', target, rebaseTo, incoming.expires);
      if (minted !== undefined) return minted;
    }
    return noteUncovered(path);
  };

  const mint = (
    path: string,
    resource: ResourceClass,
    target: UriTarget | undefined,
    rebaseTo: string | undefined,
    notAfter = Infinity,
  ): TokenGrant | undefined => {
    const ttl = resource === 'playlist' || context.staticManifest ? context.playlistTtl : context.segmentTtl;
    const expires = Math.min(context.now + ttl, notAfter);
    // A wildcard gets its directory's token (Gcore directory semantics: files directly in it). A
    // directory that is itself templated (`$RepresentationID$/$Number$.m4s`) gets a token for the
    // directory above it: in path form (its subtree), or without one where a directory token opens the
    // subtree (ectoken ec_url_allow); where it opens only the files in it (Gcore, KeyCDN in a zone
    // without path tokens) there is no token to give. A leaf BaseURL gets its directory's token in
    // path form where the zone takes them (ffmpeg), its own query token otherwise.
    const templated = target?.wildcard === true ? templatedDirectoryPrefix(path) : undefined;
    const pathForm =
      scheme.pathTokens && (templated !== undefined || target?.preferPathToken === true)
        ? (templated ?? directoryOf(path))
        : undefined;
    // Without the path form such a directory token opens none of the templated subdirectories.
    if (templated !== undefined && pathForm === undefined && scheme.directoryScope === 'files')
      return undefined;
    // Costly signatures (RSA) are made once per directory and expiry, and opened to the whole directory.
    const perDirectory = scheme.mintPerDirectory === true && pathForm === undefined;
    let signed = pathForm ?? templated ?? path;
    if (perDirectory) {
      signed = directoryOf(signed);
      const memo = mintedByDirectory.get(`${expires} ${signed}`);
      if (memo !== undefined) return rebaseTo === undefined ? memo : { ...memo, rebaseTo };
    }
    // Minted tokens keep the viewer's restrictions (ectoken: IP, country, referrer, protocol, host).
    const signTarget: SignTarget =
      incoming.rules === undefined
        ? { path: signed, expires, ip: incoming.ip, origin: context.publicOrigin }
        : { path: signed, expires, ip: incoming.ip, rules: incoming.rules, origin: context.publicOrigin };
    const token = scheme.sign(signTarget, context.signingKey);
    // A token the verifier would refuse (an ectoken over 512 characters: a very long path) is not handed out.
    if (token.length > scheme.maxTokenLength) return undefined;
    if (pathForm !== undefined && target !== undefined) {
      return ownPathGrant(pathForm, token, expires, target.pathname, rebaseTo);
    }
    if (perDirectory) mintedByDirectory.set(`${expires} ${signed}`, tokenGrant(scheme, token, expires));
    return tokenGrant(scheme, token, expires, rebaseTo);
  };
  const mintedByDirectory = new Map<string, TokenGrant>();
  const ambient =
    context.strategy === 'cookie' ||
    (context.strategy === 'forward' &&
      (context.incomingVia === 'cookie' || context.incomingVia === 'header'));

  // The one URI mint cannot serve whatever its length: a templated directory (see mint) in a zone
  // that takes no path tokens, under a scheme whose directory tokens open only files directly in it.
  const beyondDirectoryTokens = (target: UriTarget, path: string): boolean =>
    !scheme.pathTokens &&
    scheme.directoryScope === 'files' &&
    target.wildcard &&
    templatedDirectoryPrefix(path) !== undefined;

  const tokenizer = ((target: UriTarget): TokenGrant | undefined => {
    const origin = target.origin;
    let rebaseTo: string | undefined;
    if (origin !== context.publicOrigin) {
      if (upstream === undefined || origin !== upstream) return undefined;
      rebaseTo = context.publicOrigin;
    }
    // The token travels beside the URL (cookie strategy, or a cookie or header token copied by
    // forward): URIs get none, but one naming the upstream origin is still pointed at the gateway.
    if (ambient) return rebaseTo === undefined ? undefined : { kind: 'query', params: [], rebaseTo };
    // Templates and LL-HLS hints name files that do not exist yet: their directory is what counts
    // (taken before decoding: a template's file name, `$Number%05d$`, is no path a request will have).
    const rawPath = target.wildcard ? directoryOf(target.pathname) : target.pathname;
    const path = decodedPath(rawPath);
    if (path === undefined) return undefined;
    // A URI whose path the viewer chose (an HLS QUERYPARAM variable) is no statement of the origin's:
    // whatever the strategy, it gets a token only for what the viewer's own token already opens. The
    // path is judged decoded and canonical, as the request it leads to will be.
    if (target.viewerControlled === true && !incomingCovers(path)) return undefined;

    // A path token is inherited by every relative URI below its directory; absolute and root-relative
    // URIs in that subtree get the same segment inserted (README "Token rules"). Whatever the zone's strategy, a
    // request that came with a path token keeps its tokens in the path.
    if (incoming.scope === 'path' || context.strategy === 'path') {
      if (incoming.scope !== 'path') return undefined;
      // Relative URIs that stay below the manifest's directory inherit the token and are left alone
      // (applyGrant); the rest get the segment inserted after the signed directory (or where the
      // format puts it: Bunny's first segment).
      const directory = incoming.signedPath;
      const after = incoming.pathSegment?.after ?? directory;
      const segment = incoming.pathSegment?.text ?? `~${incoming.token}~${incoming.expires}`;
      if (path.startsWith(`${after}${segment}/`)) return undefined;
      if (!path.startsWith(directory)) return undefined;
      return {
        kind: 'path',
        afterPath: after,
        segment,
        resolvedPath: target.pathname,
        ...(rebaseTo === undefined ? {} : { rebaseTo }),
      };
    }
    if (context.strategy === 'forward') return forward(path, rebaseTo, target);
    const minted = mint(path, target.resource, target, rebaseTo);
    if (minted !== undefined || !beyondDirectoryTokens(target, path)) return minted;
    return noteUncovered(path);
  }) as Tokenizer & { uncovered: number; firstUncovered: string | undefined };

  /**
   * The same decisions for plain file names in one directory, with the directory judged once: the
   * segments of a long playlist cost a coverage test (forward) or a signature (mint) each, no more.
   * A plain name adds nothing the path check could refuse, so `directory + name` passes it exactly
   * when the directory does and the whole stays within the length limit.
   */
  tokenizer.forDirectory = (origin: string, directoryPath: string): NameTokenizer | undefined => {
    if (ambient) return origin === context.publicOrigin ? declineAll : undefined;
    if (incoming.scope === 'path' || context.strategy === 'path') return undefined;
    let rebaseTo: string | undefined;
    if (origin !== context.publicOrigin) {
      if (upstream === undefined || origin !== upstream) return declineAll;
      rebaseTo = context.publicOrigin;
    }
    const checked = canonicalRequestPath(directoryPath);
    if (!checked.ok || !checked.path.endsWith('/')) return declineAll;
    const directory = checked.path;
    const room = MAX_PATH_LENGTH - directoryPath.length;
    if (context.strategy === 'forward') {
      const byDirectory = scheme.coversDirectory?.(incoming, directory);
      // A remedy needs each URI's own target (its path for a path form, its class for a lifetime).
      if (byDirectory === false && remedy !== 'leave') return undefined;
      if (byDirectory === false) return (name) => noteUncovered(directory + name);
      const grant = rebaseTo === undefined ? forwarded : forwardedRebased;
      if (byDirectory === true) return (name) => (name.length > room ? undefined : grant);
      return (name) => (name.length > room ? undefined : forward(directory + name, rebaseTo));
    }
    return (name, resource) =>
      name.length > room ? undefined : mint(directory + name, resource, undefined, rebaseTo);
  };
  Object.defineProperties(tokenizer, {
    uncovered: { get: () => uncovered },
    firstUncovered: { get: () => firstUncovered },
  });
  return tokenizer;
}

const declineAll: NameTokenizer = () => undefined;

/**
 * The URL a manifest's relative URIs must be resolved against to name what the origin meant: the
 * request target without its path token. The `~token~expires` segment is one more path level for the
 * player, so `../1M/chunks.m3u8` resolved against the public URL would land one level too deep; against
 * this base it names the origin's resource, and the tokenizer's path grant writes it back with the
 * token in place.
 */
export function resolutionBase(target: string, incoming: Grant): string {
  if (incoming.scope !== 'path') return target;
  const segment = `/${incoming.pathSegment?.text ?? `~${incoming.token}~${incoming.expires}`}/`;
  const at = target.indexOf(segment);
  return at === -1 ? target : `${target.slice(0, at)}/${target.slice(at + segment.length)}`;
}
