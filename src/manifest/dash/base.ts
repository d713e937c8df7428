/**
 * Base resolution (ISO/IEC 23009-1 §5.6): the effective BaseURL of every level, from the first
 * Location (or the MPD's URL) down through MPD, Period, AdaptationSet and Representation BaseURLs.
 */
import type { SkippedUri } from '../types.js';
import { baseDirectory, verbatimDirectoryPath, type PlainBase } from '../hls/fast-path.js';
import { resolveUri, type Resolution } from '../uri.js';
import { elementText, type DashDocument } from './document.js';
import type { DashUriSite } from './sites.js';
import type { XmlElement } from './xml.js';

export type Base =
  { readonly ok: true; readonly url: URL } | { readonly ok: false; readonly reason: SkippedUri['reason'] };

export const SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:/;

const plainBases = new WeakMap<URL, PlainBase | null>();

/** The directory of an http(s) base whose path follows its origin verbatim, once per base URL object. */
export function plainBase(url: URL): PlainBase | undefined {
  let known = plainBases.get(url);
  if (known === undefined) {
    const directory = baseDirectory(url);
    const path = directory === undefined ? undefined : verbatimDirectoryPath(directory, url.origin);
    known = directory === undefined || path === undefined ? null : { directory, origin: url.origin, path };
    plainBases.set(url, known);
  }
  return known ?? undefined;
}

export function resolveAgainst(raw: string, base: Base, fallback: URL): Resolution {
  if (base.ok) return resolveUri(raw, base.url);
  // A reference with its own scheme does not depend on a base that failed to resolve.
  return SCHEME.test(raw.trim()) ? resolveUri(raw, fallback) : base;
}

/** The effective base of every element of one document, filled in pre-order by `compute`. */
export class BaseChain {
  readonly #bases = new Map<XmlElement, Base>();
  /** The base of the MPD element's own BaseURLs: the first Location, or the MPD's URL. */
  document: Base;
  /** The first Location's site when it is the document base. */
  documentLocation: XmlElement | undefined;

  constructor(private readonly doc: DashDocument) {
    this.document = { ok: true, url: doc.options.manifestUrl };
  }

  /**
   * The first Location is the base of the MPD's relative URLs (shaka at once, dash.js from the first
   * reload, which it fetches from the Location). An MPD Patch has none of its own.
   */
  findDocumentBase(): void {
    if (this.doc.patch) return;
    const location = this.doc.root.children.find((c) => c.local === 'Location');
    const value = location ? elementText(this.doc.text, location) : undefined;
    if (value !== undefined && value.trim() !== '') {
      const resolved = resolveUri(value, this.doc.options.manifestUrl);
      if (resolved.ok) {
        this.document = resolved;
        this.documentLocation = location;
      }
    }
  }

  /** Records the effective base at `element`; its parent's must be known (pre-order). */
  compute(element: XmlElement): void {
    const parentBase = element.parent ? this.#bases.get(element.parent)! : this.document;
    const first = element.children.find((c) => c.local === 'BaseURL');
    if (!first) {
      this.#bases.set(element, parentBase);
      return;
    }
    // Several BaseURLs at one level are alternatives (serviceLocation, DVB priority, content steering);
    // children are resolved against the first, as a player does before any failover.
    const value = elementText(this.doc.text, first);
    if (value === undefined) {
      this.#bases.set(element, { ok: false, reason: 'unparseable' });
      return;
    }
    if (value.trim() === '') {
      this.#bases.set(element, parentBase);
      return;
    }
    const resolved = resolveAgainst(value, parentBase, this.doc.options.manifestUrl);
    // Each level's URL repeats its parent's: nested BaseURLs add up to the square of their depth.
    if (resolved.ok) this.doc.budget.spend(resolved.url.href.length);
    this.#bases.set(element, resolved.ok ? { ok: true, url: resolved.url } : resolved);
  }

  /** The effective base at `element` (for relative URIs of the element itself and its children). */
  at(element: XmlElement): Base {
    return this.#bases.get(element)!;
  }

  /** The base that the level above `element` gives it (the document base for the root). */
  above(element: XmlElement): Base {
    return element.parent ? this.#bases.get(element.parent)! : this.document;
  }

  /** What a site's URI at `element` resolves against (see `DashResolution`). */
  forSite(row: DashUriSite, element: XmlElement): Base {
    switch (row.resolution) {
      case 'manifest':
        return { ok: true, url: this.doc.options.manifestUrl };
      case 'document':
        return this.document;
      case 'parent-base': {
        const level = element.parent;
        return level?.parent ? this.#bases.get(level.parent)! : this.document;
      }
      case 'level-base':
        return this.#bases.get(element)!;
    }
  }
}
