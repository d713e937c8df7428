/**
 * MPD Patch documents (ISO/IEC 23009-1 §5.15, `urn:mpeg:dash:schema:mpd-patch:2020`) carry RFC 5261
 * operations whose `sel` is an XPath subset. The rewriter only needs the element names along the path:
 * to know which level a BaseURL in an operation body belongs to, and which attribute or element text an
 * operation sets.
 */

export interface SelPath {
  /** Local names of the element steps, predicates removed. */
  readonly elements: readonly string[];
  /** `@name` when the path ends at an attribute, `text()` when it ends at the text node. */
  readonly tail?: { readonly attribute: string } | 'text';
}

function localName(step: string): string {
  const colon = step.indexOf(':');
  return colon === -1 ? step : step.slice(colon + 1);
}

/** Splits `/MPD/Period[@id='a/b']/AdaptationSet/@media` into steps; `undefined` when it cannot. */
export function parseSel(sel: string): SelPath | undefined {
  const steps: string[] = [];
  let current = '';
  let depth = 0;
  let quote: string | undefined;
  for (const c of sel) {
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      continue;
    }
    if (depth > 0) {
      if (c === '"' || c === "'") quote = c;
      else if (c === '[') depth += 1;
      else if (c === ']') depth -= 1;
      continue;
    }
    if (c === '[') depth += 1;
    else if (c === '/') {
      if (current !== '') steps.push(current.trim());
      current = '';
    } else current += c;
  }
  if (depth !== 0 || quote !== undefined) return undefined;
  if (current !== '') steps.push(current.trim());
  if (steps.length === 0) return undefined;
  const last = steps[steps.length - 1]!;
  if (last.startsWith('@')) {
    return { elements: steps.slice(0, -1).map(localName), tail: { attribute: last.slice(1) } };
  }
  if (last === 'text()') return { elements: steps.slice(0, -1).map(localName), tail: 'text' };
  return { elements: steps.map(localName) };
}

export const PATCH_OPERATIONS: ReadonlySet<string> = new Set(['add', 'replace', 'remove']);
