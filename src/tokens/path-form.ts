import type { PathGrant } from '../manifest/types.js';
import type { TokenScheme } from './scheme.js';

/**
 * Path-form grants for single URIs (the README's `/dir/~TOKEN~EXPIRES/…`, used here for one URI rather
 * than for a whole manifest): where a query token cannot reach or cannot survive.
 * - A template whose directory is itself templated (`$RepresentationID$/seg_$Number$.m4s` shared by
 *   several Representations, Shaka Packager's default layout) names one directory per Representation;
 *   no directory token opens them all, a token for the directory above them in path form does.
 * - ffmpeg 5.1's DASH demuxer re-reads BaseURL text as XML (`&` starts an entity) and appends `/` to it,
 *   so a query on a leaf BaseURL sends it to the directory: the path form has no `&`.
 */

/**
 * The directory above the first template identifier of a decoded template path
 * (`/live/ch1/$RepresentationID$/` → `/live/ch1/`), or undefined when the path holds no `$`.
 */
export function templatedDirectoryPrefix(path: string): string | undefined {
  const dollar = path.indexOf('$');
  if (dollar === -1) return undefined;
  return path.slice(0, path.lastIndexOf('/', dollar) + 1);
}

/**
 * A grant that inserts `~token~expires` after `directory` into this URI itself: relative references
 * get it too (they do not inherit it from the manifest's URL, which carries none).
 */
export function ownPathGrant(
  directory: string,
  token: string,
  expires: number,
  resolvedPath: string,
  rebaseTo: string | undefined,
): PathGrant {
  const grant: PathGrant = {
    kind: 'path',
    afterPath: directory,
    segment: `~${token}~${expires}`,
    resolvedPath,
    insertIntoRelative: true,
  };
  return rebaseTo === undefined ? grant : { ...grant, rebaseTo };
}

/**
 * `scheme` as a zone with `pathTokens: false` runs it: no token is read from the path (neither a
 * `~token~expires` segment nor a token-holding first segment such as Bunny's `bcdn_token=…`), and no
 * strategy writes one. A path token signs its directory in the same formula as a directory token for
 * it, yet opens the whole subtree (README "Token rules"): a zone that hands out directory tokens
 * meaning "these files, not the subdirectories" must refuse that form, or every viewer holding one can
 * rewrite the link and open the subdirectories.
 *
 * Schemes may be factory objects or class instances whose methods live on a prototype and read
 * private fields: every method is bound to the original, every other property read once (a scheme does
 * not change after it is built).
 */
export function withPathTokensOff(scheme: TokenScheme): TokenScheme {
  const { transports } = scheme;
  if (!scheme.pathTokens && !transports.pathSegment && transports.pathPrefix === undefined) return scheme;
  const view: Record<PropertyKey, unknown> = {};
  for (
    let level: object | null = scheme;
    level !== null && level !== Object.prototype;
    level = Object.getPrototypeOf(level) as object | null
  ) {
    for (const key of Reflect.ownKeys(level)) {
      if (key === 'constructor' || Object.hasOwn(view, key)) continue;
      const value: unknown = Reflect.get(scheme, key);
      view[key] = typeof value === 'function' ? (value as (...args: never[]) => unknown).bind(scheme) : value;
    }
  }
  const { pathPrefix: _prefix, ...rest } = transports;
  delete view.pathForm;
  return Object.freeze({
    ...view,
    pathTokens: false,
    transports: { ...rest, pathSegment: false },
    capabilities: { ...scheme.capabilities, pathForm: false },
  }) as unknown as TokenScheme;
}
