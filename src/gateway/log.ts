import { pino, type DestinationStream, type Logger } from 'pino';
import { redactionNames } from '../tokens/registry.js';

export type { Logger } from 'pino';

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'streamgate' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

/**
 * Query parameters whose values are credentials: our schemes' token parameters, and common ones of
 * other systems that may travel through to the origin (Nimble's wmsAuthSign, Akamai's hdnts/hdntl,
 * CloudFront's Signature, generic ones).
 */
const SECRET_PARAMS = new Set<string>([
  ...redactionNames().params.map((name) => name.toLowerCase()),
  'wmsauthsign',
  'hdnts',
  'hdntl',
  '__token__',
  'signature',
  'sig',
  'policy',
  'key-pair-id',
  'ec_token',
  'auth',
  'access_token',
]);

const PATH_TOKEN = /\/~[^~/?]*~/g;
/** First path segments that hold a token (Bunny `/bcdn_token=…&expires=N/`). */
const PATH_PREFIXES = redactionNames().pathPrefixes.map((prefix) => `/${prefix}`);
/** A query pair that is a whole token by itself (Edgecast's `/file.mp4?<token>`). */
const BARE_TOKEN = /^[A-Za-z0-9_\-+/%]{32,}(?:=|%3D){0,2}$/i;

/** Adds a zone's own token parameter name (ectoken's is configurable); redaction only ever grows. */
export function redactParam(name: string): void {
  SECRET_PARAMS.add(name.toLowerCase());
}

/** A request target fit for a log line: token values and path-token segments replaced by REDACTED. */
export function redactTarget(target: string): string {
  const question = target.indexOf('?');
  const rawPath = question === -1 ? target : target.slice(0, question);
  let path = rawPath.includes('/~') ? rawPath.replace(PATH_TOKEN, '/~REDACTED~') : rawPath;
  const prefix = PATH_PREFIXES.find((candidate) => path.startsWith(candidate));
  if (prefix !== undefined) {
    const next = path.indexOf('/', 1);
    path = `${prefix}REDACTED${next === -1 ? '' : path.slice(next)}`;
  }
  if (question === -1) return path;
  const query = target
    .slice(question + 1)
    .split('&')
    .map((pair) => {
      if (BARE_TOKEN.test(pair)) return 'REDACTED';
      const eq = pair.indexOf('=');
      const name = eq === -1 ? pair : pair.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name);
      } catch {
        // an undecodable name is logged as sent
      }
      return SECRET_PARAMS.has(decoded.toLowerCase()) ? `${name}=REDACTED` : pair;
    })
    .join('&');
  return `${path}?${query}`;
}
