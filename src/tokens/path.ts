import { deny, type Denial } from './verdict.js';

export interface CanonicalPath {
  readonly ok: true;
  /** The decoded path: what is signed, what scope checks compare, what the origin will read. */
  readonly path: string;
}

/** Longest request path accepted; real media paths are far shorter, and the limit bounds the work. */
export const MAX_PATH_LENGTH = 4096;

const HEX = /^[0-9A-Fa-f]{2}$/;
// Printable ASCII without `%`, `\` and space: nothing to decode, nothing to refuse byte-wise.
const PLAIN_PATH = /^[\x21-\x24\x26-\x5b\x5d-\x7e]*$/;
const DOUBLE_ENCODED = /%[0-9A-Fa-f]{2}/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * README "Token rules": the signed and checked path is the decoded request path, and any path the origin could
 * read differently from the token check is refused (400) before a token is looked at:
 * dot segments (also as `%2e%2e`), an encoded `/` or `\`, a NUL or other control character, empty
 * segments (`//`), malformed or overlong UTF-8 (fatal decoding rejects `%c0%ae`), and a decoded path
 * that still holds a percent escape (`%252F` → `%2F`), which a double-decoding origin would turn into a
 * separator. `rawPath` is the path part of an origin-form request target, as sent.
 */
export function canonicalRequestPath(rawPath: string): CanonicalPath | Denial {
  if (!rawPath.startsWith('/')) return deny('path', 'path does not start with /');
  if (rawPath.length > MAX_PATH_LENGTH) return deny('path', 'path too long');
  // Most media paths are plain ASCII with nothing to decode; skip the byte-level work for them.
  const plain = PLAIN_PATH.test(rawPath);
  if (plain) return checkSegments(rawPath);

  const bytes: number[] = [];
  for (let i = 0; i < rawPath.length; i += 1) {
    const code = rawPath.charCodeAt(i);
    if (code === 0x25) {
      const hex = rawPath.slice(i + 1, i + 3);
      if (!HEX.test(hex)) return deny('path', 'malformed percent escape');
      const byte = parseInt(hex, 16);
      if (byte === 0x2f || byte === 0x5c) return deny('path', 'encoded / or \\ in path');
      if (byte < 0x20 || byte === 0x7f) return deny('path', 'control character in path');
      bytes.push(byte);
      i += 2;
      continue;
    }
    // RFC 3986 §3.3: everything else must already be percent-encoded by the client.
    if (code <= 0x20 || code >= 0x7f) return deny('path', 'unencoded space, control or non-ASCII byte');
    if (code === 0x5c) return deny('path', 'backslash in path');
    bytes.push(code);
  }

  let path: string;
  try {
    path = utf8.decode(Uint8Array.from(bytes));
  } catch {
    return deny('path', 'path is not valid UTF-8');
  }
  if (DOUBLE_ENCODED.test(path)) return deny('path', 'double-encoded path');
  return checkSegments(path);
}

function checkSegments(path: string): CanonicalPath | Denial {
  if (!path.includes('/.') && !path.includes('//')) return { ok: true, path };
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i += 1) {
    const segment = segments[i];
    if (segment === '.' || segment === '..') return deny('path', 'dot segment in path');
    if (segment === '' && i !== segments.length - 1) return deny('path', 'empty segment (//) in path');
  }
  return { ok: true, path };
}

// RFC 3986 §3.3 pchar without `%`: unreserved, sub-delims, `:` and `@` stay as they are.
const PCHAR = /[A-Za-z0-9\-._~!$&'()*+,;=:@]/;
const ALL_PCHAR = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;

/** Encodes a decoded path in one canonical way for the origin and for signed URLs. */
export function encodePath(decodedPath: string): string {
  if (ALL_PCHAR.test(decodedPath)) return decodedPath;
  let out = '';
  for (const char of decodedPath) {
    if (char === '/' || PCHAR.test(char)) {
      out += char;
      continue;
    }
    for (const byte of Buffer.from(char, 'utf8'))
      out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The directory holding a decoded path, with its trailing slash (`/a/b/c.ts` → `/a/b/`). */
export function directoryOf(decodedPath: string): string {
  return decodedPath.slice(0, decodedPath.lastIndexOf('/') + 1);
}

/**
 * Whether path prefixes a token opens cover every file of `directory`: true when one prefix holds the
 * directory, undefined when a longer prefix (`/dir/seg1`) may still open some names in it (each URI
 * is then asked), false when none reaches into it. For TokenScheme.coversDirectory.
 */
export function prefixesCoverDirectory(prefixes: readonly string[], directory: string): boolean | undefined {
  if (prefixes.some((prefix) => directory.startsWith(prefix))) return true;
  return prefixes.some((prefix) => prefix.startsWith(directory)) ? undefined : false;
}
