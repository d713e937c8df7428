import type { ExpansionBudget } from '../limits.js';
import type { RewriteOptions, RewriteResult } from '../types.js';
import { PATCH_OPERATIONS } from './patch.js';
import type { UrlParamOption } from './url-query-info.js';
import { attributeValue, decodePieces, type XmlElement } from './xml.js';

export type DashRewriteOptions = RewriteOptions & {
  readonly urlParam?: UrlParamOption;
  /**
   * The MPD's own absolute URL without a token (`https://cdn.example.com/live/ch1/manifest.mpd`): a
   * dynamic MPD that names no Location gets one (src/manifest/dash/location.ts), which the tokenizer
   * then gives the token of a reloaded resource.
   */
  readonly insertLocation?: string;
};

export const MPD_PATCH_NS = 'urn:mpeg:dash:schema:mpd-patch:2020';

/** One MPD or MPD Patch being rewritten: its text, its scanned element tree and the options. */
export interface DashDocument {
  readonly text: string;
  readonly root: XmlElement;
  /** The root is an MPD Patch (ISO/IEC 23009-1 §5.15), not an MPD. */
  readonly patch: boolean;
  /** MPD@type is `dynamic` (ISO/IEC 23009-1 §5.3.1.2), or the document is an MPD Patch. */
  readonly dynamic: boolean;
  readonly options: DashRewriteOptions;
  /** What the URLs built from this document may add up to (see ManifestLimits.maxExpansion). */
  readonly budget: ExpansionBudget;
}

export function malformed(text: string, reason: string): RewriteResult {
  return { text, rewritten: 0, skipped: [], malformed: reason };
}

/** An RFC 5261 operation (`add`, `replace`, `remove`) directly under an MPD Patch root. */
export function isPatchOperation(doc: DashDocument, element: XmlElement | undefined): boolean {
  return (
    doc.patch && element !== undefined && element.parent === doc.root && PATCH_OPERATIONS.has(element.local)
  );
}

// XML 1.0 §2.3 S: what surrounds an anyURI value in element content and is not part of it.
function isXmlSpace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
}

export function trimRange(value: string): { start: number; end: number } {
  let start = 0;
  let end = value.length;
  while (start < end && isXmlSpace(value.charCodeAt(start))) start += 1;
  while (end > start && isXmlSpace(value.charCodeAt(end - 1))) end -= 1;
  return { start, end };
}

/** The decoded text of an element without child elements; `undefined` for one that has some. */
export function elementText(text: string, element: XmlElement): string | undefined {
  if (element.children.length > 0) return undefined;
  const decoded = decodePieces(text, element.content, false);
  return decoded.undecodable ? undefined : decoded.value;
}

/** Pre-order walk without recursion: manifests from the network may nest arbitrarily deep. */
export function walk(root: XmlElement, visit: (element: XmlElement) => void): void {
  const stack: XmlElement[] = [root];
  while (stack.length > 0) {
    const element = stack.pop()!;
    visit(element);
    for (let i = element.children.length - 1; i >= 0; i -= 1) stack.push(element.children[i]!);
  }
}

/** The namespace bound to `prefix` at `element` (Namespaces in XML 1.0 §6.1), looked up once. */
export function lookupNamespace(
  text: string,
  element: XmlElement | undefined,
  prefix: string,
): string | undefined {
  const name = prefix === '' ? 'xmlns' : `xmlns:${prefix}`;
  for (let e = element; e; e = e.parent) {
    if (e.attrs.some((a) => a.name === name)) return attributeValue(text, e, name);
  }
  return undefined;
}

/**
 * Pre-order walk without recursion that also reports leaving each element (after its subtree), and
 * stops early when `visit` returns false. Manifests from the network may nest deep.
 */
export function walkScoped(
  root: XmlElement,
  enter: (element: XmlElement) => boolean,
  leave: (element: XmlElement) => void,
): boolean {
  const stack: Array<{ element: XmlElement; next: number }> = [];
  if (!enter(root)) return false;
  stack.push({ element: root, next: 0 });
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    const child = frame.element.children[frame.next];
    if (child === undefined) {
      stack.pop();
      leave(frame.element);
      continue;
    }
    frame.next += 1;
    if (!enter(child)) return false;
    stack.push({ element: child, next: 0 });
  }
  return true;
}

/**
 * The namespace prefixes in scope during a `walkScoped` walk (Namespaces in XML 1.0 §6.1): `enter`
 * and `leave` each element in turn, `of` answers for the element entered last. Each lookup is one map
 * read, whatever the depth and however many prefixes a document declares.
 */
export class NamespaceScope {
  readonly #bindings = new Map<string, string[]>();
  readonly #declared = new Map<XmlElement, string[]>();

  constructor(private readonly text: string) {}

  enter(element: XmlElement): void {
    let names: string[] | undefined;
    for (const attr of element.attrs) {
      const name = attr.name;
      if (name !== 'xmlns' && !name.startsWith('xmlns:')) continue;
      const value = attributeValue(this.text, element, name) ?? '';
      const stack = this.#bindings.get(name);
      if (stack) stack.push(value);
      else this.#bindings.set(name, [value]);
      (names ??= []).push(name);
    }
    if (names) this.#declared.set(element, names);
  }

  leave(element: XmlElement): void {
    const names = this.#declared.get(element);
    if (!names) return;
    for (const name of names) this.#bindings.get(name)!.pop();
    this.#declared.delete(element);
  }

  /** The namespace bound to `prefix` at the element entered last. */
  of(prefix: string): string | undefined {
    const stack = this.#bindings.get(prefix === '' ? 'xmlns' : `xmlns:${prefix}`);
    return stack === undefined || stack.length === 0 ? undefined : stack[stack.length - 1];
  }
}
