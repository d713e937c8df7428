import { DEFAULT_MANIFEST_LIMITS, ExpansionBudget } from '../limits.js';
import type { RewriteOptions, RewriteResult, SkippedUri, TokenGrant, UriTarget } from '../types.js';
import { applyGrant, resolveUri, targetOf } from '../uri.js';
import {
  baseDirectory,
  classifyReference,
  createQuerySuffixer,
  isPlainName,
  NOT_PLAIN,
  PLAIN_PATH,
  plainTarget,
  verbatimDirectoryPath,
  type PlainBase,
} from './fast-path.js';
import { DEFAULT_LINE_SITE, TAG_RULES, type HlsUriSite } from './sites.js';
import { applyGrantThroughVariables, decidesTarget, substitute, type VariableTable } from './variables.js';

const EXTM3U = '#EXTM3U';
const EXTINF_LINE_SITE = TAG_RULES.get('EXTINF')?.nextLine ?? DEFAULT_LINE_SITE;
const HASH = 0x23;
const COLON = 0x3a;
const COMMA = 0x2c;
const EQUALS = 0x3d;
const QUOTE = 0x22;

/** RFC 8216 §4.3.1.1: a playlist's first line is `#EXTM3U`; a UTF-8 BOM before it is tolerated. */
export function looksLikeHls(text: string): boolean {
  return typeof text === 'string' && text.startsWith(EXTM3U, text.charCodeAt(0) === 0xfeff ? 1 : 0);
}

/** The characters `String.prototype.trim` removes (ECMA-262 WhiteSpace and LineTerminator). */
function isSpace(code: number): boolean {
  if (code <= 0x20) return code === 0x20 || (code >= 0x09 && code <= 0x0d);
  if (code < 0xa0) return false;
  return (
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  );
}

/** Only a space or a tab: RFC 8216 allows neither inside an attribute list, players skip both. */
function isBlank(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/**
 * Visits the attributes of an attribute list (RFC 8216 §4.2) held in `text[from, to)`. A quoted-string
 * runs to the next `"` and may contain commas, `=` and `:`; any other value runs to the next comma.
 * `valueStart`/`valueEnd` exclude the quotes; `quoted` is `'open'` for a quoted-string whose closing
 * quote is missing.
 */
function visitAttributes(
  text: string,
  from: number,
  to: number,
  visit: (
    nameStart: number,
    nameEnd: number,
    valueStart: number,
    valueEnd: number,
    quoted: boolean | 'open',
  ) => void,
): void {
  let i = from;
  while (i < to) {
    while (i < to && isBlank(text.charCodeAt(i))) i += 1;
    const nameStart = i;
    let code = 0;
    while (i < to && (code = text.charCodeAt(i)) !== EQUALS && code !== COMMA) i += 1;
    if (i >= to) return;
    if (code === COMMA) {
      i += 1;
      continue;
    }
    let nameEnd = i;
    while (nameEnd > nameStart && isBlank(text.charCodeAt(nameEnd - 1))) nameEnd -= 1;
    i += 1;
    while (i < to && isBlank(text.charCodeAt(i))) i += 1;
    if (i < to && text.charCodeAt(i) === QUOTE) {
      const valueStart = i + 1;
      let close = valueStart;
      while (close < to && text.charCodeAt(close) !== QUOTE) close += 1;
      if (close >= to) {
        visit(nameStart, nameEnd, valueStart, to, 'open');
        return;
      }
      visit(nameStart, nameEnd, valueStart, close, true);
      i = close + 1;
      while (i < to && text.charCodeAt(i) !== COMMA) i += 1;
      i += 1;
    } else {
      const valueStart = i;
      while (i < to && text.charCodeAt(i) !== COMMA) i += 1;
      visit(nameStart, nameEnd, valueStart, i, false);
      i += 1;
    }
  }
}

function nameIs(text: string, start: number, end: number, name: string): boolean {
  return end - start === name.length && text.startsWith(name, start);
}

/** rfc8216bis §4.3: `{$name}`, names made of `[a-zA-Z0-9-_]` (as in variables.ts). */
const VARIABLE_REFERENCE = /\{\$([A-Za-z0-9_-]+)\}/g;

/**
 * The length of `raw` once its known variables are substituted, found without building it: a long
 * VALUE named many times on one line would otherwise be built whole before any limit could refuse it.
 */
function substitutedLength(raw: string, variables: VariableTable): number {
  let length = raw.length;
  VARIABLE_REFERENCE.lastIndex = 0;
  for (let match = VARIABLE_REFERENCE.exec(raw); match !== null; match = VARIABLE_REFERENCE.exec(raw)) {
    const value = variables.get(match[1]!);
    if (value !== undefined) length += value.length - match[0].length;
  }
  return length;
}

const NOT_HLS =
  'not an HLS playlist: the first line is not #EXTM3U (RFC 8216 §4.3.1.1); the text is returned unchanged';

/**
 * Gives a token to every URI site of an HLS playlist (see `HLS_URI_SITES`). The output is the input
 * with edits spliced into the URIs that received a grant; every other byte is kept. Never throws on
 * any input text.
 */
export function rewriteHls(text: string, options: RewriteOptions): RewriteResult {
  if (!looksLikeHls(text)) return { text, rewritten: 0, skipped: [], malformed: NOT_HLS };

  const { manifestUrl: base, tokenize } = options;

  const budget = new ExpansionBudget(text.length, options.limits ?? DEFAULT_MANIFEST_LIMITS);
  const directory = baseDirectory(base);
  // What resolving a relative reference adds to it: the base's directory.
  const baseLength = directory?.length ?? base.href.length;
  const baseOrigin = base.origin;
  const directoryPath = directory === undefined ? undefined : verbatimDirectoryPath(directory, baseOrigin);
  const plainBase: PlainBase | undefined =
    directory === undefined || directoryPath === undefined
      ? undefined
      : { directory, origin: baseOrigin, path: directoryPath };
  const suffixFor = createQuerySuffixer();
  const names = directoryPath === undefined ? undefined : tokenize.forDirectory?.(baseOrigin, directoryPath);
  const skipped: SkippedUri[] = [];
  const variables: VariableTable = new Map();
  // Names whose value came from the viewer's request (QUERYPARAM): see UriTarget.viewerControlled.
  const fromViewer = new Set<string>();
  let rewritten = 0;
  // The output as pieces: slices of the input (cheap views into it) and the text spliced in, joined
  // once at the end. Growing one string would keep a rope of every piece alive through the rewrite,
  // and the young-generation collector would copy it again and again.
  const pieces: string[] = [];
  let copied = 0;
  let lineSite = DEFAULT_LINE_SITE;

  const rewriteSite = (site: HlsUriSite, from: number, to: number): void => {
    let start = from;
    let end = to;
    while (start < end && isSpace(text.charCodeAt(start))) start += 1;
    while (end > start && isSpace(text.charCodeAt(end - 1))) end -= 1;
    const raw = text.slice(start, end);
    const substituting = variables.size > 0 && raw.includes('{$');
    if (!budget.spend(baseLength + (substituting ? substitutedLength(raw, variables) : raw.length))) return;
    const substitution = substituting ? substitute(raw, variables) : undefined;
    const reference = substitution === undefined ? raw : substitution.text;
    const viewerControlled = substitution !== undefined && decidesTarget(substitution, fromViewer);
    // A file name next to the playlist, the bulk of a long one, goes to the tokenizer's shortcut (a
    // plain name is a plain path: no scheme, no `/`, `?` or `#`).
    const byName = names !== undefined && substitution === undefined && !site.wildcard && isPlainName(raw);
    const shape = byName
      ? PLAIN_PATH
      : directory === undefined || viewerControlled
        ? NOT_PLAIN
        : classifyReference(reference);
    let grant: TokenGrant | undefined;
    let target: UriTarget | undefined;
    if (byName) {
      grant = names(reference, site.resource);
    } else if (shape !== NOT_PLAIN && plainBase !== undefined) {
      target = plainTarget(site.site, site.resource, site.wildcard, reference, shape, plainBase);
      if (target === undefined) {
        try {
          target = targetOf(
            site.site,
            site.resource,
            site.wildcard,
            new URL(plainBase.directory + reference),
          );
        } catch {
          target = undefined;
        }
      }
    }
    if (!byName) {
      if (target === undefined) {
        const resolved = resolveUri(reference, base);
        if (!resolved.ok) {
          skipped.push({ site: site.site, uri: raw, reason: resolved.reason });
          return;
        }
        target = targetOf(site.site, site.resource, site.wildcard, resolved.url);
        if (viewerControlled) target = { ...target, viewerControlled };
      }
      grant = tokenize(target);
    }
    if (grant === undefined) {
      skipped.push({ site: site.site, uri: raw, reason: 'declined' });
      return;
    }
    const suffix = substitution === undefined ? suffixFor(shape, grant) : undefined;
    if (suffix !== undefined) {
      // The common case: the URI stays as written and the token parameters follow it.
      rewritten += 1;
      pieces.push(text.slice(copied, end), suffix);
      copied = end;
      return;
    }
    const replacement =
      substitution === undefined
        ? applyGrant(raw, grant)
        : applyGrantThroughVariables(raw, substitution, grant, variables);
    if (replacement === undefined) {
      skipped.push({ site: site.site, uri: raw, reason: 'unresolved-variable' });
      return;
    }
    rewritten += 1;
    if (replacement === raw) return;
    pieces.push(text.slice(copied, start), replacement);
    copied = end;
  };

  const define = (from: number, to: number): void => {
    let name: string | undefined;
    let value: string | undefined;
    let queryParam: string | undefined;
    let imported: string | undefined;
    visitAttributes(text, from, to, (nameStart, nameEnd, valueStart, valueEnd) => {
      const content = text.slice(valueStart, valueEnd);
      if (nameIs(text, nameStart, nameEnd, 'NAME')) name = content;
      else if (nameIs(text, nameStart, nameEnd, 'VALUE')) value = content;
      else if (nameIs(text, nameStart, nameEnd, 'QUERYPARAM')) queryParam = content;
      else if (nameIs(text, nameStart, nameEnd, 'IMPORT')) imported = content;
    });
    if (queryParam !== undefined) {
      // rfc8216bis §4.4.2.3: the value of the query parameter of that name in the playlist's URI,
      // percent-decoded. hls.js and Shaka read it through URLSearchParams (so `+` is a space too);
      // the URI the player will request is what matters here.
      const found = base.searchParams.get(queryParam);
      if (found === null) variables.delete(queryParam);
      else variables.set(queryParam, found);
      fromViewer.add(queryParam);
    } else if (name !== undefined && value !== undefined) {
      variables.set(name, value);
      fromViewer.delete(name);
    } else if (imported !== undefined) {
      variables.delete(imported);
    }
  };

  const tag = (start: number, end: number): void => {
    // `start` is at the `#`.
    let nameEnd = start + 1;
    while (nameEnd < end && text.charCodeAt(nameEnd) !== COLON) nameEnd += 1;
    // Half the lines of a long playlist: its only effect is the site of the next URI line.
    if (nameIs(text, start + 1, nameEnd, 'EXTINF')) {
      lineSite = EXTINF_LINE_SITE;
      return;
    }
    const name = text.slice(start + 1, nameEnd);
    const valueStart = nameEnd + 1;
    if (name === 'EXT-X-DEFINE') {
      define(valueStart, end);
      return;
    }
    const rule = TAG_RULES.get(name);
    if (rule === undefined) return;
    if (rule.nextLine !== undefined) lineSite = rule.nextLine;
    if (valueStart > end) return;
    if (rule.value !== undefined) rewriteSite(rule.value, valueStart, end);
    if (rule.attributes.length === 0) return;
    visitAttributes(text, valueStart, end, (nameStart, attrEnd, from, to, quoted) => {
      for (const site of rule.attributes) {
        if (!nameIs(text, nameStart, attrEnd, site.attribute!)) continue;
        if (quoted === 'open') {
          skipped.push({ site: site.site, uri: text.slice(from, to).trim(), reason: 'unparseable' });
        } else {
          rewriteSite(site, from, to);
        }
      }
    });
  };

  const length = text.length;
  let lineStart = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  while (lineStart < length && !budget.exceeded) {
    let lineEnd = text.indexOf('\n', lineStart);
    if (lineEnd === -1) lineEnd = length;
    let start = lineStart;
    while (start < lineEnd && isSpace(text.charCodeAt(start))) start += 1;
    if (start < lineEnd) {
      if (text.charCodeAt(start) === HASH) {
        // RFC 8216 §4.1: lines starting with `#EXT` are tags, other `#` lines are comments.
        if (text.startsWith('EXT', start + 1)) {
          let end = lineEnd;
          while (end > start && isSpace(text.charCodeAt(end - 1))) end -= 1;
          tag(start, end);
        }
      } else {
        rewriteSite(lineSite, start, lineEnd);
        lineSite = DEFAULT_LINE_SITE;
      }
    }
    lineStart = lineEnd + 1;
  }

  if (budget.exceeded) {
    return { text, rewritten: 0, skipped: [], limit: budget.limit('the URIs (after variable substitution)') };
  }
  if (copied !== 0) pieces.push(text.slice(copied));
  const result = copied === 0 ? text : pieces.join('');
  return { text: result, rewritten, skipped };
}
