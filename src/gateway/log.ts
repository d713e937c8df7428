import { pino, type DestinationStream, type Logger } from 'pino';
import { SCHEMES } from '../tokens/registry.js';

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
const SECRET_PARAMS: ReadonlySet<string> = new Set([
  ...Object.values(SCHEMES).map((scheme) => scheme.params.token.toLowerCase()),
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

/** A request target fit for a log line: token values and path-token segments replaced by REDACTED. */
export function redactTarget(target: string): string {
  const question = target.indexOf('?');
  const rawPath = question === -1 ? target : target.slice(0, question);
  const path = rawPath.includes('/~') ? rawPath.replace(PATH_TOKEN, '/~REDACTED~') : rawPath;
  if (question === -1) return path;
  const query = target
    .slice(question + 1)
    .split('&')
    .map((pair) => {
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
