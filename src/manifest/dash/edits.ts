/**
 * Edits spliced into the original text (never a reprinted DOM, which would lose comments, quotes,
 * attribute order and line endings): changes inside a URI value, and new elements inserted as children.
 */
import {
  escapeAttribute,
  escapeCdata,
  escapeText,
  type ContentPiece,
  type DecodedValue,
  type XmlElement,
} from './xml.js';

export interface Edit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

/**
 * The edit that turns `decoded.value[coreStart, coreEnd)` into `replacement`, changing only the units
 * that differ, escaped for where they land: `undefined` when nothing changes or when the change would
 * swallow a comment or CDATA delimiter lying inside the value.
 */
export function spliceEdit(
  decoded: DecodedValue,
  pieces: readonly ContentPiece[],
  coreStart: number,
  coreEnd: number,
  replacement: string,
  quote: '"' | "'" | undefined,
): Edit | undefined {
  const old = decoded.value.slice(coreStart, coreEnd);
  if (old === replacement) return undefined;
  const max = Math.min(old.length, replacement.length);
  let p = 0;
  while (p < max && old[p] === replacement[p]) p += 1;
  let s = 0;
  while (s < max - p && old[old.length - 1 - s] === replacement[replacement.length - 1 - s]) s += 1;
  // Never cut between the halves of a surrogate pair: both halves map to one raw span.
  if (p > 0 && /[\uD800-\uDBFF]/.test(old[p - 1]!)) p -= 1;
  if (s > 0 && /[\uDC00-\uDFFF]/.test(old[old.length - s]!)) s -= 1;
  const a = coreStart + p;
  const b = coreEnd - s;
  const inserted = replacement.slice(p, replacement.length - s);
  let rawStart: number;
  let rawEnd: number;
  let pieceIndex: number;
  if (a < b) {
    rawStart = decoded.rawStartOf(a);
    rawEnd = decoded.rawEndOf(b - 1);
    pieceIndex = decoded.pieceOf(a);
    // The change would swallow a comment or CDATA delimiter lying inside the URI.
    if (decoded.pieceOf(b - 1) !== pieceIndex) return undefined;
  } else if (a > 0) {
    rawStart = rawEnd = decoded.rawEndOf(a - 1);
    pieceIndex = decoded.pieceOf(a - 1);
  } else {
    rawStart = rawEnd = decoded.rawStartOf(0);
    pieceIndex = decoded.pieceOf(0);
  }
  const piece = pieces[pieceIndex]!;
  const escaped =
    piece.kind === 'cdata'
      ? escapeCdata(inserted)
      : quote !== undefined
        ? escapeAttribute(inserted, quote)
        : escapeText(inserted);
  return { start: rawStart, end: rawEnd, text: escaped };
}

/**
 * Inserts `markup` as a child of `parent`, after the last child whose local name is in `after` (the
 * children that precede it in the schema's order), else right after the start tag; the indentation
 * of the parent's first child is repeated before it. The place for new elements: Annex I's
 * SupplementalProperty in an AdaptationSet now, e.g. a Location at MPD level.
 */
export function childInsertion(
  text: string,
  parent: XmlElement,
  markup: string,
  after: ReadonlySet<string>,
): Edit {
  const children = parent.children;
  let anchor = parent.startTagEnd;
  for (const child of children) if (after.has(child.local)) anchor = child.end;
  const first = children[0];
  const lead = first ? text.slice(parent.startTagEnd, first.start) : '';
  const indent = /^[ \t]*\r?\n[ \t]*$/.test(lead) ? lead : '';
  return { start: anchor, end: anchor, text: indent + markup };
}

/** The text with the edits applied (they must not overlap; insertions at one offset keep their order). */
export function applyEdits(text: string, edits: Edit[]): string {
  if (edits.length === 0) return text;
  edits.sort((x, y) => x.start - y.start || x.end - y.end);
  // Pieces joined once: growing one string would keep a rope of every piece alive until the end.
  const pieces: string[] = [];
  let at = 0;
  for (const edit of edits) {
    pieces.push(text.slice(at, edit.start), edit.text);
    at = edit.end;
  }
  pieces.push(text.slice(at));
  return pieces.join('');
}
