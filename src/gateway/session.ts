/**
 * The session redirect for live DASH (zone setting `dashSessionRedirect`). ISO/IEC 23009-1 §5.4.1 lets
 * a player reload a dynamic MPD from its Location, and the gateway inserts one (src/manifest/dash/
 * location.ts); players that ignore Location reload from the URL they were given, the viewer's
 * short-lived entry link. Answered with a 301 to the same MPD under a minted token of the playlist
 * lifetime, GStreamer's DASH demuxer (adaptivedemux2, 1.22) reloads from the redirect's target: it keeps
 * the target of a permanent redirect only (tried: 302, 307 and 308 send it back to the entry URL).
 * Relative URIs resolve against the target, which names the same directory.
 */
import type { ServerResponse } from 'node:http';
import { countAnswer } from './access.js';
import type { SignTarget } from '../tokens/scheme.js';
import type { GatewayRuntime, ViewerRequest, ZoneRuntime } from './runtime.js';

/**
 * Answers `view` with the redirect when the zone asks for it and the viewer's link expires within half
 * the playlist lifetime (a session URL itself lives longer, so it is never redirected again before
 * then). `path` is the decoded request path; returns whether it answered.
 */
export function redirectToSession(
  rt: GatewayRuntime,
  zone: ZoneRuntime,
  view: ViewerRequest,
  res: ServerResponse,
  path: string,
): boolean {
  const config = zone.config;
  const { grant } = view;
  if (!config.dashSessionRedirect || grant.scope === 'path') return false;
  if (grant.expires >= view.now + config.playlistTtl / 2) return false;
  const expires = view.now + config.playlistTtl;
  const target: SignTarget =
    grant.rules === undefined
      ? { path, expires, ip: grant.ip }
      : { path, expires, ip: grant.ip, rules: grant.rules };
  const token = zone.scheme.sign(target, config.keys[0] ?? '');
  if (token.length > zone.scheme.maxTokenLength) return false;
  const params = zone.scheme
    .queryParams(token, expires)
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  // The viewer's own parameters (upstreamTarget: the checked path and the query without the token).
  const upstream = view.upstreamTarget;
  const location = `${upstream}${upstream.includes('?') ? '&' : '?'}${params}`;
  res.writeHead(301, {
    location,
    // The target holds a token for this viewer: no cache may keep the redirect.
    'cache-control': 'private, no-store',
    'content-length': 0,
  });
  res.end();
  countAnswer(rt.metrics, res, config.name, 301, 'session');
  return true;
}
