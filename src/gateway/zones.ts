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

/** `/a/~tok~123/b` → `/a/b`: the path a path-embedded token stands for (SPEC §3). */
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
 */
export function chooseZone<Z extends { readonly config: ZoneConfig; readonly scheme: TokenScheme }>(
  router: ZoneRouter<Z>,
  hostname: string,
  target: string,
): Z | Denial | undefined {
  if (router.catchAll !== undefined) return router.catchAll;
  const question = target.indexOf('?');
  // A token-holding first segment (Bunny's `/bcdn_token=…/`) is no part of the path a zone answers.
  const canonical = canonicalRequestPath(
    withoutPrefixSegment(question === -1 ? target : target.slice(0, question)),
  );
  if (!canonical.ok) return canonical;
  const zone = router.match(hostname, withoutPathTokens(canonical.path));
  // A zone whose tokens never travel in the path (ectoken) must be chosen by the path as it is.
  if (zone !== undefined && !zone.scheme.pathTokens && canonical.path.includes('/~')) {
    if (router.match(hostname, canonical.path) !== zone) return undefined;
  }
  return zone;
}
