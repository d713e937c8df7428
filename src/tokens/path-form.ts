import type { PathGrant } from '../manifest/types.js';

/**
 * Path-form grants for single URIs (SPEC §3's `/dir/~TOKEN~EXPIRES/…`, used here for one URI rather
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
