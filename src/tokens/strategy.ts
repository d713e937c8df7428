import type { Tokenizer, TokenGrant, UriTarget } from '../manifest/types.js';
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

function tokenGrant(scheme: TokenScheme, token: string, expires: number, rebaseTo?: string): TokenGrant {
  return {
    kind: 'query',
    params: [
      [scheme.params.token, token],
      [scheme.params.expires, String(expires)],
    ],
    ...(rebaseTo === undefined ? {} : { rebaseTo }),
  };
}

/** Builds the tokenizer the rewriters call for each URI of one manifest response. */
export function createTokenizer(context: StrategyContext): Tokenizer {
  const { scheme, incoming } = context;
  const upstream = context.upstreamOrigin;

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
    // The path is judged as the gateway will judge the request it leads to; one the gateway would
    // refuse gets no token.
    const checked = canonicalRequestPath(rawPath);
    if (!checked.ok) return undefined;
    const path = checked.path;

    // A path token is inherited by every relative URI below its directory; absolute and root-relative
    // URIs in that subtree get the same segment inserted (SPEC §3). Whatever the zone's strategy, a
    // request that came with a path token keeps its tokens in the path.
    if (incoming.scope === 'path' || context.strategy === 'path') {
      if (incoming.scope !== 'path') return undefined;
      const directory = incoming.signedPath;
      const segment = `~${incoming.token}~${incoming.expires}`;
      if (path.startsWith(`${directory}${segment}/`)) return undefined;
      if (!path.startsWith(directory)) return undefined;
      return { kind: 'path', afterPath: directory, segment, ...(rebaseTo === undefined ? {} : { rebaseTo }) };
    }

    if (context.strategy === 'forward') {
      const covered =
        incoming.scope === 'file' ? path === incoming.signedPath : directoryOf(path) === incoming.signedPath;
      return covered ? tokenGrant(scheme, incoming.token, incoming.expires, rebaseTo) : undefined;
    }

    const ttl =
      target.resource === 'playlist' || context.staticManifest ? context.playlistTtl : context.segmentTtl;
    const expires = context.now + ttl;
    // A wildcard gets its directory's token (Gcore directory semantics: files directly in it). A
    // directory that is itself templated (`$RepresentationID$/$Number$.m4s`) cannot be named by one
    // token; such a URI is left alone (a path-token zone covers that layout).
    const signedPath = path;
    if (target.wildcard && signedPath.includes('$')) return undefined;
    const token = scheme.sign({ path: signedPath, expires, ip: incoming.ip }, context.signingKey);
    return tokenGrant(scheme, token, expires, rebaseTo);
  };
}
