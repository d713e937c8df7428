import type { ZoneConfig } from '../config/index.js';

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
