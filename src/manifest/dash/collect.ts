/**
 * Site collection: every place in an MPD or MPD Patch that holds a URI a player will request (the
 * rows of `DASH_URI_SITES`), with the base it resolves against.
 */
import type { Base, BaseChain } from './base.js';
import { isPatchOperation, NamespaceScope, type DashDocument } from './document.js';
import { parseSel } from './patch.js';
import { representationsInScope } from './representation.js';
import { DASH_URI_SITES, LEVELS, XLINK_NS, type DashUriSite } from './sites.js';
import { attributeValue, type ContentPiece, type XmlElement } from './xml.js';

export interface Occurrence {
  readonly row: DashUriSite;
  /** The element whose attribute or content holds the URI (for a patch text operation: the operation). */
  readonly element: XmlElement;
  readonly pieces: readonly ContentPiece[];
  /** Set for an attribute value. */
  readonly quote: '"' | "'" | undefined;
  readonly base: Base;
  /** The Representation a template applies to when exactly one does (see `representationsInScope`). */
  readonly representation: XmlElement | undefined;
  /**
   * The element whose BaseURL chain `base` comes from (see `BaseTrust.at`); undefined when the base is
   * the MPD's own URL or the document base.
   */
  readonly baseElement: XmlElement | undefined;
}

const ROWS_BY_ELEMENT = new Map<string, DashUriSite[]>();
for (const row of DASH_URI_SITES) {
  const list = ROWS_BY_ELEMENT.get(row.element) ?? [];
  list.push(row);
  ROWS_BY_ELEMENT.set(row.element, list);
}
const BASE_URL_ROWS = new Map<string, DashUriSite>(
  DASH_URI_SITES.filter((r) => r.level !== undefined).map((r) => [r.level!, r]),
);

/**
 * Finds the sites of one element at a time, during a walk that enters and leaves every element in
 * document order (`enter`, `collect`, then `leave` after its subtree), so that namespace prefixes are
 * known in one lookup. Nothing is kept per site: each is handed to the caller as it is found.
 */
export class SiteCollector {
  /** The text site of each BaseURL and Location asked for so far (null: the element is none). */
  readonly #textSites = new Map<XmlElement, Occurrence | null>();
  /** `representationsInScope` per level and attribute: every template at one level gets one answer. */
  readonly #inScope = new Map<XmlElement, Map<string, XmlElement[]>>();
  readonly #namespaces: NamespaceScope;

  constructor(
    private readonly doc: DashDocument,
    private readonly bases: BaseChain,
  ) {
    this.#namespaces = new NamespaceScope(doc.text);
  }

  enter(element: XmlElement): void {
    this.#namespaces.enter(element);
  }

  leave(element: XmlElement): void {
    this.#namespaces.leave(element);
  }

  /**
   * The site of a BaseURL's or a top-level Location's text, the same object each time: trust in a
   * base asks for the sites of BaseURL alternatives before the walk reaches them.
   */
  textSite(element: XmlElement): Occurrence | undefined {
    let site = this.#textSites.get(element);
    if (site === undefined) {
      site = this.makeTextSite(element) ?? null;
      this.#textSites.set(element, site);
    }
    return site ?? undefined;
  }

  private makeTextSite(element: XmlElement): Occurrence | undefined {
    const local = element.local;
    const parent = element.parent;
    if (!parent || element.children.length > 0) return undefined;
    if (local === 'BaseURL') {
      const level = LEVELS.has(parent.local) ? parent.local : this.patchLevel(parent);
      const row = level === undefined ? undefined : BASE_URL_ROWS.get(level);
      return row ? this.make(row, element, element.content) : undefined;
    }
    if (local === 'Location' || local === 'PatchLocation') {
      const atTop = parent === this.doc.root ? !this.doc.patch : isPatchOperation(this.doc, parent);
      return atTop ? this.make(ROWS_BY_ELEMENT.get(local)![0]!, element, element.content) : undefined;
    }
    return undefined;
  }

  /** Hands every site of `element` itself (its text, its attributes) to `emit`, in a fixed order. */
  collect(element: XmlElement, emit: (occurrence: Occurrence) => void): void {
    const local = element.local;
    const parent = element.parent;
    const text = this.doc.text;

    if (local === 'BaseURL' || local === 'Location' || local === 'PatchLocation') {
      const site = this.textSite(element);
      if (site) emit(site);
    } else if (local === 'ContentSteering' && parent && this.steeringParent(parent)) {
      if (element.children.length === 0) {
        emit(this.make(ROWS_BY_ELEMENT.get(local)![0]!, element, element.content));
      }
    } else if (isPatchOperation(this.doc, element)) {
      const site = this.operationTextSite(element);
      if (site) emit(site);
    }

    for (const row of ROWS_BY_ELEMENT.get(local) ?? []) {
      if (typeof row.value !== 'object') continue;
      const attribute = row.value.attribute;
      if (row.when && !row.when.matches.test(attributeValue(text, element, row.when.attribute) ?? ''))
        continue;
      const attr = element.attrs.find((a) => a.name === attribute);
      if (attr) {
        emit(
          this.make(row, element, [{ kind: 'text', start: attr.valueStart, end: attr.valueEnd }], attr.quote),
        );
      }
    }

    for (const attr of element.attrs) {
      const colon = attr.name.indexOf(':');
      if (colon === -1 || attr.name.slice(colon + 1) !== 'href') continue;
      const prefix = attr.name.slice(0, colon);
      const ns = this.#namespaces.of(prefix);
      if (ns === XLINK_NS || (ns === undefined && prefix === 'xlink')) {
        emit(
          this.make(
            ROWS_BY_ELEMENT.get('*')![0]!,
            element,
            [{ kind: 'text', start: attr.valueStart, end: attr.valueEnd }],
            attr.quote,
          ),
        );
      }
    }
  }

  private representationsInScope(template: XmlElement, attribute: string): XmlElement[] {
    const level = template.parent;
    if (!level || level.local === 'Representation') return representationsInScope(template, attribute);
    let byAttribute = this.#inScope.get(level);
    if (!byAttribute) {
      byAttribute = new Map();
      this.#inScope.set(level, byAttribute);
    }
    let found = byAttribute.get(attribute);
    if (!found) {
      found = representationsInScope(template, attribute);
      byAttribute.set(attribute, found);
    }
    return found;
  }

  private make(
    row: DashUriSite,
    element: XmlElement,
    pieces: readonly ContentPiece[],
    quote?: '"' | "'",
  ): Occurrence {
    let representation: XmlElement | undefined;
    let base = this.bases.forSite(row, element);
    let baseElement =
      row.resolution === 'level-base'
        ? element
        : row.resolution === 'parent-base'
          ? element.parent?.parent
          : undefined;
    if (row.element === 'SegmentTemplate' && typeof row.value === 'object') {
      const scope = this.representationsInScope(element, row.value.attribute);
      if (scope.length === 1) {
        representation = scope[0]!;
        base = this.bases.at(representation);
        baseElement = representation;
      }
    }
    // One shape for every site (absent fields undefined): the walk makes one per URI.
    return { row, element, pieces, base, quote, representation, baseElement };
  }

  /** Where a ContentSteering element is one: in ServiceDescription, at MPD level, or added by a patch. */
  private steeringParent(parent: XmlElement): boolean {
    if (parent.local === 'ServiceDescription') return true;
    return parent === this.doc.root ? !this.doc.patch : isPatchOperation(this.doc, parent);
  }

  /** The level a BaseURL directly inside a patch operation belongs to, from the operation's `sel`. */
  private patchLevel(operation: XmlElement): string | undefined {
    if (!isPatchOperation(this.doc, operation)) return undefined;
    const sel = attributeValue(this.doc.text, operation, 'sel');
    const path = sel === undefined ? undefined : parseSel(sel);
    if (!path || path.tail !== undefined) return undefined;
    const steps = [...path.elements];
    // RFC 5261 §4.3: `pos` before/after adds a sibling of the selected element, not a child.
    const pos = attributeValue(this.doc.text, operation, 'pos');
    if (operation.local === 'add' && (pos === 'before' || pos === 'after')) steps.pop();
    if (operation.local === 'replace' || steps[steps.length - 1] === 'BaseURL') steps.pop();
    const level = steps[steps.length - 1];
    return level !== undefined && LEVELS.has(level) ? level : undefined;
  }

  /** RFC 5261 operations whose text content is an attribute value or an element's text. */
  private operationTextSite(operation: XmlElement): Occurrence | undefined {
    if (operation.children.length > 0) return undefined;
    const text = this.doc.text;
    const sel = attributeValue(text, operation, 'sel');
    const path = sel === undefined ? undefined : parseSel(sel);
    if (!path) return undefined;
    let elementName: string | undefined;
    let attribute: string | undefined;
    if (operation.local === 'replace' && typeof path.tail === 'object') {
      elementName = path.elements[path.elements.length - 1];
      attribute = path.tail.attribute;
    } else if (operation.local === 'add' && path.tail === undefined) {
      const type = attributeValue(text, operation, 'type');
      if (type?.startsWith('@')) {
        elementName = path.elements[path.elements.length - 1];
        attribute = type.slice(1);
      }
    } else if (operation.local === 'replace' && path.tail === 'text') {
      elementName = path.elements[path.elements.length - 1];
    }
    if (elementName === undefined) return undefined;
    let row: DashUriSite | undefined;
    if (attribute !== undefined) {
      row = (ROWS_BY_ELEMENT.get(elementName) ?? []).find(
        (r) => typeof r.value === 'object' && r.value.attribute === attribute,
      );
    } else if (elementName === 'BaseURL') {
      const level = path.elements[path.elements.length - 2];
      row = level === undefined ? undefined : BASE_URL_ROWS.get(level);
    } else if (
      elementName === 'Location' ||
      elementName === 'PatchLocation' ||
      elementName === 'ContentSteering'
    ) {
      row = ROWS_BY_ELEMENT.get(elementName)![0];
    }
    if (!row) return undefined;
    // The operation stands in for the element: resolve as if the value sat at the document level.
    const base: Base =
      row.resolution === 'manifest' ? { ok: true, url: this.doc.options.manifestUrl } : this.bases.document;
    return {
      row,
      element: operation,
      pieces: operation.content,
      base,
      quote: undefined,
      representation: undefined,
      baseElement: undefined,
    };
  }
}
