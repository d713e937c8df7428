/**
 * Whether the bases a relative URI may be resolved against all name the gateway. A player may fail
 * over to any BaseURL alternative (ISO/IEC 23009-1 §5.6.5, DVB priorities, content steering), so a URI
 * that follows its base gets a token only when every such base is the gateway's once rewritten.
 */
import { resolveAgainst, type BaseChain } from './base.js';
import { elementText, type DashDocument } from './document.js';
import type { XmlElement } from './xml.js';

/** Verdicts on single sites that the trust of a base depends on, given by the rewriter. */
export interface SiteVerdicts {
  /** The first Location (the document base) names the gateway once rewritten. */
  locationOnGateway(location: XmlElement): boolean;
  /** The BaseURL element's own site names the gateway once rewritten. */
  baseUrlOnGateway(baseUrl: XmlElement): boolean;
}

// Two bases that differ in scheme, host and path.
const PROBE_A = new URL('http://a.invalid/a/');
const PROBE_B = new URL('https://b.invalid/b/');

/**
 * What a reference takes from its base (WHATWG URL, as players resolve): `none` (it names its own
 * scheme and host), `scheme` (`//host/…`: its own host, the base's scheme) or `host` (a relative path,
 * or what cannot be parsed).
 */
export function dependence(reference: string): 'none' | 'scheme' | 'host' {
  try {
    const a = new URL(reference, PROBE_A);
    const b = new URL(reference, PROBE_B);
    if (a.href === b.href) return 'none';
    return a.host === b.host ? 'scheme' : 'host';
  } catch {
    return 'host';
  }
}

export class BaseTrust {
  /** Per element: whether every base a player may resolve against there is the gateway's. */
  readonly #trust = new Map<XmlElement, boolean>();
  #document: boolean | undefined;

  constructor(
    private readonly doc: DashDocument,
    private readonly bases: BaseChain,
    private readonly verdicts: SiteVerdicts,
  ) {}

  /**
   * Whether every base a player may resolve a relative URI against at `element` names the gateway
   * (after rewriting): the first BaseURL of each level and every alternative it may fail over to. The
   * MPD's own URL is the gateway's; a first Location elsewhere is trusted only if it is rebased here.
   * Computed down the ancestor chain without recursion (documents may nest arbitrarily deep).
   */
  at(element: XmlElement | undefined): boolean {
    const chain: XmlElement[] = [];
    let e = element;
    while (e !== undefined && !this.#trust.has(e)) {
      chain.push(e);
      e = e.parent;
    }
    let trusted = e === undefined ? this.documentTrusted() : this.#trust.get(e)!;
    for (let i = chain.length - 1; i >= 0; i -= 1) {
      const level = chain[i]!;
      let alternatives = 0;
      let all = true;
      for (const child of level.children) {
        if (child.local !== 'BaseURL') continue;
        alternatives += 1;
        all = all && this.alternativeTrusted(child, level, trusted);
        if (this.doc.budget.exceeded) break;
      }
      if (alternatives > 0) trusted = all;
      this.#trust.set(level, trusted);
    }
    return trusted;
  }

  private documentTrusted(): boolean {
    this.#document ??= this.judgeDocument();
    return this.#document;
  }

  private judgeDocument(): boolean {
    const location = this.bases.documentLocation;
    const base = this.bases.document;
    if (!base.ok || location === undefined) return true;
    if (base.url.origin === this.doc.options.manifestUrl.origin) return true;
    // The Location resolves against the MPD's URL, not against the document base.
    return this.verdicts.locationOnGateway(location);
  }

  /** Whether the BaseURL `alternative` of `level` names the gateway once rewritten. */
  private alternativeTrusted(alternative: XmlElement, level: XmlElement, parentTrusted: boolean): boolean {
    const value = elementText(this.doc.text, alternative);
    if (value === undefined) return false;
    const raw = value.trim();
    // An empty BaseURL repeats its parent's; a relative one stays on its parent's hosts.
    const follows = raw === '' ? 'host' : dependence(raw);
    if (follows === 'host') return parentTrusted;
    if (follows === 'scheme' && !parentTrusted) return false;
    const resolved = resolveAgainst(raw, this.bases.above(level), this.doc.options.manifestUrl);
    if (!resolved.ok) return false;
    this.doc.budget.spend(resolved.url.href.length);
    if (resolved.url.origin === this.doc.options.manifestUrl.origin) return true;
    return this.verdicts.baseUrlOnGateway(alternative);
  }
}
