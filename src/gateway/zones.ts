import type { ZoneConfig } from '../config/index.js';
import { withoutPrefixSegment } from '../tokens/registry.js';
import { canonicalRequestPath } from '../tokens/path.js';
import type { TokenScheme } from '../tokens/scheme.js';
import type { Denial } from '../tokens/verdict.js';

/**
 * Zone selection: the longest matching path prefix wins, compared segment by segment (`/video-1` never
 * matches `/video-10/…`); at equal length a zone bound to the request's host wins over one for any host.
 * Matching runs on the decoded, canonical path with path-token segments taken out, i.e. the path the
 * token check and the origin will see, so an encoded prefix (`/vid%65o-1/`) cannot pick another zone.
 */
export class ZoneRouter<Z extends { readonly config: ZoneConfig }> {
  readonly #ordered: readonly Z[];
  /** The only zone, when it answers every host and path: matching needs no decoded path. */
  readonly catchAll: Z | undefined;

  constructor(zones: readonly Z[]) {
    this.#ordered = [...zones].sort((a, b) => {
      const byLength = b.config.pathPrefix.length - a.config.pathPrefix.length;
      if (byLength !== 0) return byLength;
      return (b.config.host === undefined ? 0 : 1) - (a.config.host === undefined ? 0 : 1);
    });
    const only = zones.length === 1 ? zones[0] : undefined;
    this.catchAll =
      only && only.config.pathPrefix === '/' && only.config.host === undefined ? only : undefined;
  }

  /** `hostname` lower-case without port; `path` decoded and canonical, path tokens removed. */
  match(hostname: string, path: string): Z | undefined {
    for (const zone of this.#ordered) {
      const { host, pathPrefix } = zone.config;
      if (host !== undefined && host !== hostname) continue;
      if (pathPrefix === '/' || path === pathPrefix || path.startsWith(`${pathPrefix}/`)) return zone;
    }
    return undefined;
  }
}

/** `/a/~tok~123/b` → `/a/b`: the path a path-embedded token stands for (README "Token rules"). */
export function withoutPathTokens(path: string): string {
  if (!path.includes('/~')) return path;
  return path
    .split('/')
    .filter((segment) => !/^~[^~]*~[^~]*$/.test(segment))
    .join('/');
}

/**
 * The zone that answers `target` (an origin-form request target) on `hostname`: a zone, a path denial
 * (400, before any token is looked at), or undefined when no zone answers (404). The proxy path and the
 * auth endpoint both choose here, so a front proxy's subrequest picks the zone the gateway would.
 *
 * Each zone is matched on the path as it reads it. A zone that takes path tokens reads a
 * `~token~expires` segment (and its scheme's token-holding first segment) as a token; one that does
 * not (a scheme without them, or `pathTokens: false`) reads it as part of the path, and is chosen only
 * when that path names it too.
 */
export function chooseZone<Z extends { readonly config: ZoneConfig; readonly scheme: TokenScheme }>(
  router: ZoneRouter<Z>,
  hostname: string,
  target: string,
): Z | Denial | undefined {
  if (router.catchAll !== undefined) return router.catchAll;
  const question = target.indexOf('?');
  const rawPath = question === -1 ? target : target.slice(0, question);
  // A token-holding first segment (Bunny's `/bcdn_token=…/`) is no part of the path a zone answers.
  const peeled = withoutPrefixSegment(rawPath);
  const canonical = canonicalRequestPath(peeled);
  if (!canonical.ok) return canonical;
  const stripped = withoutPathTokens(canonical.path);
  const zone = router.match(hostname, stripped);
  if (zone === undefined) return undefined;
  const prefix = zone.scheme.transports.pathPrefix;
  if (peeled !== rawPath && (prefix === undefined || !rawPath.startsWith(`/${prefix}`))) {
    const literal = canonicalRequestPath(rawPath);
    if (!literal.ok) return literal;
    const view = zone.scheme.pathTokens ? withoutPathTokens(literal.path) : literal.path;
    return router.match(hostname, view) === zone ? zone : undefined;
  }
  if (stripped === canonical.path) return zone;
  // A zone whose tokens never travel in the path (ectoken, pathTokens: false) reads the path as it is.
  if (!zone.scheme.pathTokens) return router.match(hostname, canonical.path) === zone ? zone : undefined;
  // The token stands in the part of the tree of a zone told to refuse path tokens (pathTokens: false):
  // that zone's directory tokens must not open this zone's subtree in path form (with a shared key).
  const owner = router.match(hostname, canonical.path);
  return owner !== undefined && owner !== zone && !owner.config.pathTokens ? undefined : zone;
}
