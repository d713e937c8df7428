/**
 * Site collection: every place in an MPD or MPD Patch that holds a URI a player will request (the
 * rows of `DASH_URI_SITES`), with the base it resolves against.
 */
import type { Base, BaseChain } from './base.js';
import { isPatchOperation, Namespaces, type DashDocument } from './document.js';
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
  readonly quote?: '"' | "'";
  readonly base: Base;
  /** The Representation a template applies to when exactly one does (see `representationsInScope`). */
  readonly representation?: XmlElement;
  /**
   * The element whose BaseURL chain `base` comes from (see `BaseTrust.at`); absent when the base is the
   * MPD's own URL or the document base.
   */
  readonly baseElement?: XmlElement;
}

/** For each element, the nearest AdaptationSet and level (MPD, Period, …, patch operation) at or above it. */
export interface LevelScope {
  readonly adaptationSet: XmlElement | undefined;
  readonly level: XmlElement | undefined;
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

export class SiteCollector {
  /** Every site, in document order (patch operation text where its operation starts). */
  readonly occurrences: Occurrence[] = [];
  /** The occurrence of each BaseURL element that is a site. */
  readonly baseUrlSites = new Map<XmlElement, Occurrence>();
  readonly scope = new Map<XmlElement, LevelScope>();
  readonly #namespaces: Namespaces;

  constructor(
    private readonly doc: DashDocument,
    private readonly bases: BaseChain,
  ) {
    this.#namespaces = new Namespaces(doc.text);
  }

  /** Records the scope of `element`; its parent's must be known (pre-order). */
  computeScope(element: XmlElement): void {
    const up = element.parent ? this.scope.get(element.parent) : undefined;
    this.scope.set(element, {
      adaptationSet: element.local === 'AdaptationSet' ? element : up?.adaptationSet,
      level: LEVELS.has(element.local) || isPatchOperation(this.doc, element) ? element : up?.level,
    });
  }

  /** Adds the sites of `element` itself (its attributes, its text), after the bases are known. */
  collect(element: XmlElement): void {
    const local = element.local;
    const parent = element.parent;
    const text = this.doc.text;

    if (local === 'BaseURL' && parent) {
      const level = LEVELS.has(parent.local) ? parent.local : this.patchLevel(parent);
      const row = level === undefined ? undefined : BASE_URL_ROWS.get(level);
      if (row && element.children.length === 0) this.add(row, element, element.content);
    } else if ((local === 'Location' || local === 'PatchLocation') && parent) {
      const atTop = parent === this.doc.root ? !this.doc.patch : isPatchOperation(this.doc, parent);
      if (atTop && element.children.length === 0) {
        this.add(ROWS_BY_ELEMENT.get(local)![0]!, element, element.content);
      }
    } else if (local === 'ContentSteering' && parent && this.steeringParent(parent)) {
      if (element.children.length === 0) this.add(ROWS_BY_ELEMENT.get(local)![0]!, element, element.content);
    } else if (isPatchOperation(this.doc, element)) {
      this.collectOperationText(element);
    }

    for (const row of ROWS_BY_ELEMENT.get(local) ?? []) {
      if (typeof row.value !== 'object') continue;
      const attribute = row.value.attribute;
      if (row.when && !row.when.matches.test(attributeValue(text, element, row.when.attribute) ?? ''))
        continue;
      const attr = element.attrs.find((a) => a.name === attribute);
      if (attr)
        this.add(row, element, [{ kind: 'text', start: attr.valueStart, end: attr.valueEnd }], attr.quote);
    }

    for (const attr of element.attrs) {
      const colon = attr.name.indexOf(':');
      if (colon === -1 || attr.name.slice(colon + 1) !== 'href') continue;
      const prefix = attr.name.slice(0, colon);
      const ns = this.#namespaces.of(element, prefix);
      if (ns === XLINK_NS || (ns === undefined && prefix === 'xlink')) {
        this.add(
          ROWS_BY_ELEMENT.get('*')![0]!,
          element,
          [{ kind: 'text', start: attr.valueStart, end: attr.valueEnd }],
          attr.quote,
        );
      }
    }
  }

  private add(
    row: DashUriSite,
    element: XmlElement,
    pieces: readonly ContentPiece[],
    quote?: '"' | "'",
  ): void {
    let representation: XmlElement | undefined;
    let base = this.bases.forSite(row, element);
    let baseElement =
      row.resolution === 'level-base'
        ? element
        : row.resolution === 'parent-base'
          ? element.parent?.parent
          : undefined;
    if (row.element === 'SegmentTemplate' && typeof row.value === 'object') {
      const scope = representationsInScope(element, row.value.attribute);
      if (scope.length === 1) {
        representation = scope[0]!;
        base = this.bases.at(representation);
        baseElement = representation;
      }
    }
    const occurrence: Occurrence = {
      row,
      element,
      pieces,
      base,
      ...(quote === undefined ? {} : { quote }),
      ...(representation === undefined ? {} : { representation }),
      ...(baseElement === undefined ? {} : { baseElement }),
    };
    this.occurrences.push(occurrence);
    if (row.element === 'BaseURL' && element.local === 'BaseURL') this.baseUrlSites.set(element, occurrence);
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
  private collectOperationText(operation: XmlElement): void {
    if (operation.children.length > 0) return;
    const text = this.doc.text;
    const sel = attributeValue(text, operation, 'sel');
    const path = sel === undefined ? undefined : parseSel(sel);
    if (!path) return;
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
    if (elementName === undefined) return;
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
    if (!row) return;
    // The operation stands in for the element: resolve as if the value sat at the document level.
    this.occurrences.push({
      row,
      element: operation,
      pieces: operation.content,
      base:
        row.resolution === 'manifest' ? { ok: true, url: this.doc.options.manifestUrl } : this.bases.document,
    });
  }
}
