/**
 * The request paths the gateway accepts (src/tokens/path.ts, canonicalRequestPath), as one regular
 * expression over the path as sent (before `?`), so that nginx refuses with 400 exactly what the gateway
 * refuses. Written in the subset PCRE and JavaScript read alike (no Unicode mode: it matches bytes in
 * nginx and UTF-16 units in JavaScript, and every unit it accepts unescaped is ASCII), so a test can hold
 * it against canonicalRequestPath directly.
 *
 * What it encodes, from the gateway's rules:
 * - at most 4096 characters, starting with `/`;
 * - unescaped: printable ASCII except `%`, `\`, `#` and `?` (RFC 3986 §3.3 — a client percent-encodes
 *   the rest);
 * - escapes: two hex digits; never an encoded `/` or `\` (`%2F`, `%5C`) or control character
 *   (`%00`–`%1F`, `%7F`); bytes from `%80` up only as well-formed UTF-8 (RFC 3629 §4: no overlong forms,
 *   no surrogates, nothing above U+10FFFF);
 * - `%25` (a decoded `%`) never followed by two characters that decode to hex digits: a double-encoding
 *   origin would read `%252F` as a separator;
 * - no segment that decodes to `.` or `..`, and no empty segment except after the last `/`.
 */

const HEX = '[0-9A-Fa-f]';
const CONTINUATION = `%[89ABab]${HEX}`;
/** Printable ASCII but `%` (0x25), `/` (0x2f), `?` (0x3f), `\` (0x5c) and `#` (0x23). */
const UNESCAPED = '[!"$&-.0-9:->@-\\[\\]-~]';
/** `%20`–`%7E` without `%25` (below), `%2F` and `%5C`. */
const ESCAPED_ASCII = `%(?:2[0-46-9A-Ea-e]|[346]${HEX}|5[0-9ABD-Fabd-f]|7[0-9A-Ea-e])`;
/** A character that decodes to a hex digit: itself, or its escape. */
const DECODED_HEX = `(?:${HEX}|%3[0-9]|%4[1-6]|%6[1-6])`;
const ESCAPED_PERCENT = `%25(?!${DECODED_HEX}{2})`;
/** RFC 3629 §4, the UTF8-2, UTF8-3 and UTF8-4 rules, each byte percent-encoded. */
const ESCAPED_UTF8 = [
  `%[Cc][2-9A-Fa-f]${CONTINUATION}`,
  `%[Dd]${HEX}${CONTINUATION}`,
  `%[Ee]0%[ABab]${HEX}${CONTINUATION}`,
  `%[Ee][1-9A-Ca-c](?:${CONTINUATION}){2}`,
  `%[Ee][Dd]%[89]${HEX}${CONTINUATION}`,
  `%[Ee][EFef](?:${CONTINUATION}){2}`,
  `%[Ff]0%[9ABab]${HEX}(?:${CONTINUATION}){2}`,
  `%[Ff][1-3](?:${CONTINUATION}){3}`,
  `%[Ff]4%8${HEX}(?:${CONTINUATION}){2}`,
].join('|');
const UNIT = `(?:${UNESCAPED}|${ESCAPED_ASCII}|${ESCAPED_PERCENT}|${ESCAPED_UTF8})`;
const DOT = '(?:\\.|%2[Ee])';
const SEGMENT = `(?!${DOT}{1,2}(?:/|$))${UNIT}+`;

/** Matches a raw request path (no query) the gateway accepts; anything else is its 400. */
export const ACCEPTED_PATH = `^(?=/.{0,4095}$)/(?:${SEGMENT}/)*(?:${SEGMENT})?$`;
