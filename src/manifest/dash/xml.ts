/**
 * A small XML scanner for rewriting MPDs in place. It records where every element, attribute value and
 * text run sits in the original string, so that edits can be spliced into the original bytes instead of
 * reprinting a DOM (which would lose comments, quotes, attribute order and line endings).
 *
 * It follows XML 1.0 structure strictly (balanced tags, one root, nothing but misc after the root) and
 * is lenient where real MPD generators are sloppy but players' parsers cope: a bare `&` that starts no
 * reference is taken literally, and `<` inside an attribute value is allowed.
 */

import { DEFAULT_MANIFEST_LIMITS, type LimitExceeded, type ManifestLimits } from '../limits.js';

export interface XmlAttr {
  /** Qualified name as written, e.g. `media`, `xlink:href`. */
  readonly name: string;
  /** Offsets of the raw value between the quotes. */
  readonly valueStart: number;
  readonly valueEnd: number;
  readonly quote: '"' | "'";
}

/**
 * A run of character data directly inside an element: plain text or the inside of a CDATA section.
 * Kept only while the element has no child element: a URI value is the text of a leaf, and the
 * whitespace between thousands of SegmentURLs would otherwise be recorded on their SegmentList.
 */
export interface ContentPiece {
  readonly kind: 'text' | 'cdata';
  readonly start: number;
  readonly end: number;
}

export interface XmlElement {
  readonly name: string;
  readonly prefix: string;
  readonly local: string;
  /** Offset of `<`. */
  readonly start: number;
  /** Offset just after the start tag's `>`. */
  startTagEnd: number;
  selfClosing: boolean;
  readonly attrs: XmlAttr[];
  readonly children: XmlElement[];
  readonly parent: XmlElement | undefined;
  readonly content: ContentPiece[];
  /** Offset of the end tag's `<` (equals `startTagEnd` for a self-closing element). */
  endTagStart: number;
  /** Offset just after the element (after the end tag's `>`). */
  end: number;
}

export type ScanResult =
  | { readonly ok: true; readonly root: XmlElement }
  | { readonly ok: false; readonly reason: string; readonly limit?: LimitExceeded };

/** Past this many attributes in one tag, duplicates are found with a set rather than a scan. */
const ATTRIBUTES_SCANNED = 8;

// Characters that end a name: XML whitespace and markup delimiters.
const NAME_END = new Uint8Array(128);
for (const c of ' \t\n\r\f\v/>=<"\'!?') NAME_END[c.charCodeAt(0)] = 1;

function isWs(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x09 || code === 0x0d;
}

function readName(text: string, from: number): number {
  let i = from;
  for (; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code < 128 && NAME_END[code] === 1) break;
  }
  return i;
}

function splitName(
  name: string,
  intern: (from: number, to: number) => string,
  at: number,
): { prefix: string; local: string } {
  const colon = name.indexOf(':');
  return colon === -1
    ? { prefix: '', local: name }
    : { prefix: intern(at, at + colon), local: intern(at + colon + 1, at + name.length) };
}

function limitFailure(limit: LimitExceeded['limit'], max: number, detail: string, at: number): ScanResult {
  return { ok: false, reason: `${detail} at offset ${at}`, limit: { limit, max, detail } };
}

/** XML 1.0 §2.8 doctypedecl, skipped whole: quoted strings and an internal subset may hold `>`. */
export function skipDoctype(text: string, from: number): number {
  let i = from;
  let bracket = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"' || c === "'") {
      const close = text.indexOf(c, i + 1);
      if (close === -1) return -1;
      i = close + 1;
      continue;
    }
    if (c === '[') bracket += 1;
    else if (c === ']') bracket -= 1;
    else if (c === '>' && bracket <= 0) return i + 1;
    i += 1;
  }
  return -1;
}

/**
 * Scans a whole document into an element tree with offsets, or says why it cannot: not well-formed,
 * or deeper or larger than `limits` allow (checked as the scan goes, so nothing past them is built).
 */
export function scanXml(
  text: string,
  limits: Pick<ManifestLimits, 'maxDepth' | 'maxElements'> = DEFAULT_MANIFEST_LIMITS,
): ScanResult {
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let elements = 0;
  // One string per distinct name: thousands of `SegmentURL` tags share one.
  const names = new Map<string, string>();
  const intern = (from: number, to: number): string => {
    const name = text.slice(from, to);
    const known = names.get(name);
    if (known !== undefined) return known;
    names.set(name, name);
    return name;
  };

  const fail = (reason: string, at: number): ScanResult => ({
    ok: false,
    reason: `${reason} at offset ${at}`,
  });

  while (i < n) {
    const lt = text.indexOf('<', i);
    const textEnd = lt === -1 ? n : lt;
    if (textEnd > i) {
      const top = stack[stack.length - 1];
      if (top) {
        if (top.children.length === 0) top.content.push({ kind: 'text', start: i, end: textEnd });
      } else {
        for (let k = i; k < textEnd; k += 1) {
          if (!isWs(text.charCodeAt(k))) return fail('text outside the root element', k);
        }
      }
    }
    if (lt === -1) break;

    const next = text.charCodeAt(lt + 1);
    // `!` comment/CDATA/DOCTYPE, `?` processing instruction, `/` end tag; anything else starts a tag.
    const markup = next === 0x21 || next === 0x3f || next === 0x2f;
    if (markup && text.startsWith('<!--', lt)) {
      const close = text.indexOf('-->', lt + 4);
      if (close === -1) return fail('unterminated comment', lt);
      i = close + 3;
      continue;
    }
    if (markup && text.startsWith('<![CDATA[', lt)) {
      const top = stack[stack.length - 1];
      if (!top) return fail('CDATA outside the root element', lt);
      const close = text.indexOf(']]>', lt + 9);
      if (close === -1) return fail('unterminated CDATA section', lt);
      if (top.children.length === 0) top.content.push({ kind: 'cdata', start: lt + 9, end: close });
      i = close + 3;
      continue;
    }
    if (markup && text.startsWith('<!DOCTYPE', lt)) {
      if (root || stack.length > 0) return fail('DOCTYPE after the root element started', lt);
      const after = skipDoctype(text, lt + 9);
      if (after === -1) return fail('unterminated DOCTYPE', lt);
      i = after;
      continue;
    }
    if (next === 0x3f) {
      const close = text.indexOf('?>', lt + 2);
      if (close === -1) return fail('unterminated processing instruction', lt);
      i = close + 2;
      continue;
    }
    if (next === 0x2f) {
      const nameEnd = readName(text, lt + 2);
      const name = text.slice(lt + 2, nameEnd);
      let k = nameEnd;
      while (k < n && isWs(text.charCodeAt(k))) k += 1;
      if (text[k] !== '>') return fail('malformed end tag', lt);
      const top = stack.pop();
      if (!top || top.name !== name) return fail(`end tag </${name}> does not match`, lt);
      top.endTagStart = lt;
      top.end = k + 1;
      i = k + 1;
      continue;
    }

    // Start tag.
    if (root && stack.length === 0) return fail('second root element', lt);
    const nameEnd = readName(text, lt + 1);
    if (nameEnd === lt + 1) return fail('malformed tag', lt);
    elements += 1;
    if (elements > limits.maxElements) {
      return limitFailure('elements', limits.maxElements, `more than ${limits.maxElements} elements`, lt);
    }
    if (stack.length >= limits.maxDepth) {
      return limitFailure('depth', limits.maxDepth, `elements nested more than ${limits.maxDepth} deep`, lt);
    }
    const name = intern(lt + 1, nameEnd);
    const parent = stack[stack.length - 1];
    const { prefix, local } = splitName(name, intern, lt + 1);
    const element: XmlElement = {
      name,
      prefix,
      local,
      start: lt,
      startTagEnd: -1,
      selfClosing: false,
      attrs: [],
      children: [],
      parent,
      content: [],
      endTagStart: -1,
      end: -1,
    };
    let k = nameEnd;
    let attrNames: Set<string> | undefined;
    for (;;) {
      while (k < n && isWs(text.charCodeAt(k))) k += 1;
      if (k >= n) return fail('unterminated start tag', lt);
      const c = text[k];
      if (c === '>') {
        k += 1;
        break;
      }
      if (c === '/') {
        if (text[k + 1] !== '>') return fail('malformed empty-element tag', lt);
        element.selfClosing = true;
        k += 2;
        break;
      }
      const attrEnd = readName(text, k);
      if (attrEnd === k) return fail('malformed attribute', k);
      const attrName = intern(k, attrEnd);
      k = attrEnd;
      while (k < n && isWs(text.charCodeAt(k))) k += 1;
      if (text[k] !== '=') return fail(`attribute ${attrName} has no value`, k);
      k += 1;
      while (k < n && isWs(text.charCodeAt(k))) k += 1;
      const quote = text[k];
      if (quote !== '"' && quote !== "'") return fail(`attribute ${attrName} is not quoted`, k);
      const close = text.indexOf(quote, k + 1);
      if (close === -1) return fail(`unterminated value of attribute ${attrName}`, k);
      // XML 1.0 §3.1 (Unique Att Spec): a parser must refuse the document; which value a lenient player
      // would take is unknowable.
      const attrs = element.attrs;
      if (attrNames === undefined && attrs.length >= ATTRIBUTES_SCANNED) {
        attrNames = new Set(attrs.map((a) => a.name));
      }
      if (attrNames ? attrNames.has(attrName) : attrs.some((a) => a.name === attrName)) {
        return fail(`duplicate attribute ${attrName}`, k);
      }
      attrNames?.add(attrName);
      attrs.push({ name: attrName, valueStart: k + 1, valueEnd: close, quote });
      k = close + 1;
    }
    element.startTagEnd = k;
    if (parent) {
      // The text before a first child is no value (see ContentPiece).
      if (parent.children.length === 0) parent.content.length = 0;
      parent.children.push(element);
    } else root = element;
    if (element.selfClosing) {
      element.endTagStart = k;
      element.end = k;
    } else {
      stack.push(element);
    }
    i = k;
  }

  if (stack.length > 0) return fail(`element <${stack[stack.length - 1]!.name}> is not closed`, n);
  if (!root) return { ok: false, reason: 'no root element' };
  return { ok: true, root };
}

/**
 * A decoded value with, for each UTF-16 unit, the raw span it came from and the piece it sits in, so a
 * change to the decoded value can be mapped back onto the original bytes.
 */
export class DecodedValue {
  constructor(
    readonly value: string,
    /** Set when a reference could not be decoded (an entity declared in a DTD, an invalid code point). */
    readonly undecodable: boolean,
    /** Offset of the value when every unit is its own raw byte (nothing decoded, one piece). */
    private readonly offset: number,
    private readonly rawStart?: readonly number[],
    private readonly rawEnd?: readonly number[],
    private readonly piece?: readonly number[],
  ) {}

  rawStartOf(unit: number): number {
    return this.rawStart ? this.rawStart[unit]! : this.offset + unit;
  }

  rawEndOf(unit: number): number {
    return this.rawEnd ? this.rawEnd[unit]! : this.offset + unit + 1;
  }

  pieceOf(unit: number): number {
    return this.piece ? this.piece[unit]! : 0;
  }
}

const PLAIN_ATTRIBUTE = /[&\r\n\t]/;
const PLAIN_TEXT = /[&\r]/;

const NAMED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const REFERENCE = /^&(?:#(\d{1,8})|#x([0-9A-Fa-f]{1,7})|([A-Za-z_][\w.-]*));/;

function validCodePoint(cp: number): boolean {
  // XML 1.0 §2.2 Char.
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

/**
 * Decodes character data (`attribute` true: an attribute value, XML 1.0 §3.3.3 normalisation of literal
 * TAB/CR/LF to spaces; otherwise element content, §2.11 CRLF → LF). CDATA pieces are taken verbatim.
 */
export function decodePieces(
  text: string,
  pieces: readonly ContentPiece[],
  attribute: boolean,
): DecodedValue {
  const only = pieces.length === 1 ? pieces[0]! : undefined;
  if (only) {
    const raw = text.slice(only.start, only.end);
    // Most values hold nothing to decode or normalise: every unit is its own raw byte.
    if (only.kind === 'cdata' ? !raw.includes('\r') : !(attribute ? PLAIN_ATTRIBUTE : PLAIN_TEXT).test(raw)) {
      return new DecodedValue(raw, false, only.start);
    }
  }
  let value = '';
  const rawStart: number[] = [];
  const rawEnd: number[] = [];
  const piece: number[] = [];
  let undecodable = false;
  const push = (chars: string, start: number, end: number, index: number): void => {
    value += chars;
    for (let u = 0; u < chars.length; u += 1) {
      rawStart.push(start);
      rawEnd.push(end);
      piece.push(index);
    }
  };
  pieces.forEach((p, index) => {
    let i = p.start;
    while (i < p.end) {
      const c = text[i]!;
      if (c === '\r') {
        const end = text[i + 1] === '\n' && i + 1 < p.end ? i + 2 : i + 1;
        push(attribute ? ' ' : '\n', i, end, index);
        i = end;
        continue;
      }
      if (attribute && (c === '\n' || c === '\t')) {
        push(' ', i, i + 1, index);
        i += 1;
        continue;
      }
      if (c === '&' && p.kind === 'text') {
        const match = REFERENCE.exec(text.slice(i, Math.min(p.end, i + 40)));
        if (match) {
          const end = i + match[0].length;
          if (match[3] !== undefined) {
            const named = NAMED[match[3]];
            if (named === undefined) undecodable = true;
            push(named ?? match[0], i, end, index);
          } else {
            const cp = match[1] !== undefined ? parseInt(match[1], 10) : parseInt(match[2]!, 16);
            if (!validCodePoint(cp)) {
              undecodable = true;
              push(match[0], i, end, index);
            } else {
              push(String.fromCodePoint(cp), i, end, index);
            }
          }
          i = end;
          continue;
        }
      }
      // Keep surrogate pairs together so no edit lands between their halves.
      const code = text.charCodeAt(i);
      const width = code >= 0xd800 && code <= 0xdbff && i + 1 < p.end ? 2 : 1;
      push(text.slice(i, i + width), i, i + width, index);
      i += width;
    }
  });
  return new DecodedValue(value, undecodable, 0, rawStart, rawEnd, piece);
}

const ATTRIBUTE_SPECIAL = /[&<"'\t\n\r]/g;
const ATTRIBUTE_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '\t': '&#9;',
  '\n': '&#10;',
  '\r': '&#13;',
};

/** Escapes text for an attribute value delimited by `quote`, keeping TAB/CR/LF from being normalised. */
export function escapeAttribute(value: string, quote: '"' | "'"): string {
  // One flat string per call: appending character by character would leave a rope of one node per
  // character behind every edit of a long SegmentList.
  return value.replace(ATTRIBUTE_SPECIAL, (c) => {
    if (c === '"' || c === "'") return c !== quote ? c : quote === '"' ? '&quot;' : '&apos;';
    return ATTRIBUTE_ESCAPES[c]!;
  });
}

/** Escapes text for element content (`>` too, so `]]>` can never appear). */
export function escapeText(value: string): string {
  return value.replace(/[&<>\r]/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&#13;',
  );
}

/** Text placed inside an existing CDATA section: only `]]>` needs splitting. */
export function escapeCdata(value: string): string {
  return value.replace(/]]>/g, ']]]]><![CDATA[>');
}

/** The value of the first attribute whose qualified name is `name`, decoded. */
export function attributeValue(text: string, element: XmlElement, name: string): string | undefined {
  const attr = element.attrs.find((a) => a.name === name);
  if (!attr) return undefined;
  return decodePieces(text, [{ kind: 'text', start: attr.valueStart, end: attr.valueEnd }], true).value;
}
