import type { Tokenizer, TokenGrant, UriTarget } from '../manifest/types.js';
import { ECTOKEN_MAX_LENGTH } from './ectoken.js';
import { canonicalRequestPath, directoryOf } from './path.js';
import type { TokenScheme } from './scheme.js';
import type { Grant } from './verdict.js';

/** How nested URIs in a manifest get their tokens (SPEC §4). */
export type TokenStrategy = 'forward' | 'mint' | 'path';

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
}

// Printable ASCII without `%`, `/` and `\`: a file name that decodes to itself.
const PLAIN_NAME = /^[\x21-\x24\x26-\x2e\x30-\x5b\x5d-\x7e]+$/;

function tokenGrant(scheme: TokenScheme, token: string, expires: number, rebaseTo?: string): TokenGrant {
  return {
    kind: 'query',
    params: scheme.queryParams(token, expires),
    ...(rebaseTo === undefined ? {} : { rebaseTo }),
  };
}

/** Builds the tokenizer the rewriters call for each URI of one manifest response. */
export function createTokenizer(context: StrategyContext): Tokenizer {
  const { scheme, incoming } = context;
  const upstream = context.upstreamOrigin;

  // The path is judged as the gateway will judge the request it leads to; one the gateway would refuse
  // gets no token. A playlist's URIs mostly share one directory: its decoding is remembered, and a
  // plain file name in it needs no further work.
  let lastRawDirectory: string | undefined;
  let lastDirectory = '';
  const decodedPath = (rawPath: string): string | undefined => {
    const slash = rawPath.lastIndexOf('/');
    const name = rawPath.slice(slash + 1);
    if (rawPath.length - name.length === lastRawDirectory?.length && rawPath.startsWith(lastRawDirectory)) {
      if (name === '' || (PLAIN_NAME.test(name) && name !== '.' && name !== '..'))
        return lastDirectory + name;
    }
    const checked = canonicalRequestPath(rawPath);
    if (!checked.ok) return undefined;
    lastRawDirectory = rawPath.slice(0, slash + 1);
    lastDirectory = directoryOf(checked.path);
    return checked.path;
  };

  // Forwarding hands every covered URI the same parameters.
  const forwarded = tokenGrant(scheme, incoming.token, incoming.expires);
  const forwardedRebased = tokenGrant(scheme, incoming.token, incoming.expires, context.publicOrigin);

  return (target: UriTarget): TokenGrant | undefined => {
    const origin = target.origin;
    let rebaseTo: string | undefined;
    if (origin !== context.publicOrigin) {
      if (upstream === undefined || origin !== upstream) return undefined;
      rebaseTo = context.publicOrigin;
    }
    // Templates and LL-HLS hints name files that do not exist yet: their directory is what counts
    // (taken before decoding: a template's file name, `$Number%05d$`, is no path a request will have).
    const rawPath = target.wildcard ? directoryOf(target.pathname) : target.pathname;
    const path = decodedPath(rawPath);
    if (path === undefined) return undefined;

    // A path token is inherited by every relative URI below its directory; absolute and root-relative
    // URIs in that subtree get the same segment inserted (SPEC §3). Whatever the zone's strategy, a
    // request that came with a path token keeps its tokens in the path.
    if (incoming.scope === 'path' || context.strategy === 'path') {
      if (incoming.scope !== 'path') return undefined;
      // Relative URIs that stay below the manifest's directory inherit the token and are left alone
      // (applyGrant); the rest get the segment inserted after the signed directory.
      const directory = incoming.signedPath;
      const segment = `~${incoming.token}~${incoming.expires}`;
      if (path.startsWith(`${directory}${segment}/`)) return undefined;
      if (!path.startsWith(directory)) return undefined;
      return {
        kind: 'path',
        afterPath: directory,
        segment,
        resolvedPath: target.pathname,
        ...(rebaseTo === undefined ? {} : { rebaseTo }),
      };
    }

    if (context.strategy === 'forward') {
      if (!scheme.covers(incoming, path)) return undefined;
      return rebaseTo === undefined ? forwarded : forwardedRebased;
    }

    const ttl =
      target.resource === 'playlist' || context.staticManifest ? context.playlistTtl : context.segmentTtl;
    const expires = context.now + ttl;
    // A wildcard gets its directory's token (Gcore directory semantics: files directly in it). A
    // directory that is itself templated (`$RepresentationID$/$Number$.m4s`) cannot be named by one
    // token; such a URI is left alone (a path-token zone covers that layout).
    const signedPath = path;
    if (target.wildcard && signedPath.includes('$')) return undefined;
    // Minted tokens keep the viewer's restrictions (ectoken: IP, country, referrer, protocol, host).
    const token = scheme.sign(
      { path: signedPath, expires, ip: incoming.ip, ...(incoming.rules ? { rules: incoming.rules } : {}) },
      context.signingKey,
    );
    // A token the verifier would refuse (ectoken over 512 characters: a very long path) is not handed out.
    if (token.length > ECTOKEN_MAX_LENGTH) return undefined;
    return tokenGrant(scheme, token, expires, rebaseTo);
  };
}

/**
 * The URL a manifest's relative URIs must be resolved against to name what the origin meant: the
 * request target without its path token. The `~token~expires` segment is one more path level for the
 * player, so `../1M/chunks.m3u8` resolved against the public URL would land one level too deep; against
 * this base it names the origin's resource, and the tokenizer's path grant writes it back with the
 * token in place.
 */
export function resolutionBase(target: string, incoming: Grant): string {
  if (incoming.scope !== 'path') return target;
  const segment = `/~${incoming.token}~${incoming.expires}/`;
  const at = target.indexOf(segment);
  return at === -1 ? target : `${target.slice(0, at)}/${target.slice(at + segment.length)}`;
}
