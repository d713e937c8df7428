import { pino, type DestinationStream, type Logger } from 'pino';
import { isBareToken, isPathTokenSegment } from '../tokens/check.js';
import { parseQuery } from '../tokens/query.js';
import { redactionNames, SCHEMES } from '../tokens/registry.js';

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
  // The credential of each scheme (its expiry and scope parameters are no secret and stay readable).
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

/** Texts a token-holding first path segment starts with (Bunny's `bcdn_token=…&expires=N`). */
const PATH_PREFIXES = redactionNames().pathPrefixes;

/** Adds a zone's own token parameter name (ectoken's is configurable); redaction only ever grows. */
export function redactParam(name: string): void {
  SECRET_PARAMS.add(name.toLowerCase());
}

const REDACTED = 'REDACTED';

/** A bare pair of base64 text long enough to be a token, whatever the scheme's stricter reading. */
const LONG_OPAQUE = /^[A-Za-z0-9_\-+/%]{32,}(?:=|%3D){0,2}$/i;
const ESCAPE = /%([0-9A-Fa-f]{2})/g;

/**
 * Percent-decodes twice at most (a double-encoded spelling is refused by the gateway, but it is still
 * the token's text); an escape that is no UTF-8 decodes byte by byte rather than stopping.
 */
function decodedForm(text: string): string {
  let out = text;
  for (let round = 0; round < 2 && out.includes('%'); round += 1) {
    try {
      out = decodeURIComponent(out);
    } catch {
      out = out.replace(ESCAPE, (_all, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    }
  }
  return out;
}

/**
 * `/dir/~token~expires/file` with the token replaced, whichever way the tildes and the token are
 * percent-encoded (the gateway decodes the path before it looks for the segment: `%7e` is a tilde).
 */
function redactPath(path: string): string {
  if (!path.includes('~') && !path.includes('%') && !PATH_PREFIXES.some((p) => path.startsWith(p, 1))) {
    return path;
  }
  return path
    .split('/')
    .map((segment, index) => {
      const decoded = decodedForm(segment);
      // Bunny's path form: the whole first segment is the token (`bcdn_token=…&expires=N`).
      const prefix = index === 1 ? PATH_PREFIXES.find((p) => decoded.startsWith(p)) : undefined;
      if (prefix !== undefined) return `${prefix}${REDACTED}`;
      if (!isPathTokenSegment(decoded) && !(decoded.startsWith('~') && decoded.includes('~', 1))) {
        return segment;
      }
      const expires = decoded.slice(decoded.lastIndexOf('~') + 1);
      return `~${REDACTED}~${/^[0-9]{1,12}$/.test(expires) ? expires : REDACTED}`;
    })
    .join('/');
}

/**
 * Query (or fragment) text with every token value replaced. Pairs are read with the token check's own
 * parser (names percent-decoded, a bare token recognised as the check recognises it); `;` separates
 * pairs here too — the gateway does not read a token after one, but a viewer may still have put a
 * working token there.
 */
function redactQuery(query: string): string {
  return query
    .split(/([&;])/)
    .map((piece, index) => {
      if (index % 2 === 1 || piece === '') return piece;
      const [pair] = parseQuery(piece);
      if (pair === undefined) return piece;
      if (isBareToken(pair) || (pair.rawValue === undefined && LONG_OPAQUE.test(piece))) return REDACTED;
      const name = decodedForm(pair.name).trim().toLowerCase();
      if (pair.rawValue === undefined || !SECRET_PARAMS.has(name)) return piece;
      return `${piece.slice(0, piece.length - pair.rawValue.length - 1)}=${REDACTED}`;
    })
    .join('');
}

const ABSOLUTE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;

/**
 * A request target (or any URI) fit for a log line: every token the gateway could read from it —
 * query parameters of every scheme however their names are encoded, a bare ectoken, a path-embedded
 * token however its tildes are written — and the credentials of other systems replaced by REDACTED.
 * Every log line that shows a target or a URI goes through here.
 */
export function redactTarget(target: string): string {
  const authority = ABSOLUTE.exec(target)?.[0] ?? '';
  const rest = target.slice(authority.length);
  const hash = rest.indexOf('#');
  const beforeHash = hash === -1 ? rest : rest.slice(0, hash);
  const question = beforeHash.indexOf('?');
  const path = question === -1 ? beforeHash : beforeHash.slice(0, question);
  let out = authority + redactPath(path);
  if (question !== -1) out += `?${redactQuery(beforeHash.slice(question + 1))}`;
  if (hash !== -1) out += `#${redactQuery(rest.slice(hash + 1))}`;
  return out;
}
