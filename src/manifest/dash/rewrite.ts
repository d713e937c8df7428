import type { RewriteOptions, RewriteResult, SkippedUri, TokenGrant, UriTarget } from '../types.js';
import {
  baseDirectory,
  classifyReference,
  NOT_PLAIN,
  plainTarget,
  verbatimDirectoryPath,
  type PlainBase,
} from '../hls/fast-path.js';
import { applyGrant, resolveUri, targetOf, type Resolution } from '../uri.js';
import { parseSel, PATCH_OPERATIONS } from './patch.js';
import { DASH_URI_SITES, LEVELS, XLINK_NS, type DashUriSite } from './sites.js';
import {
  escapeTemplateText,
  hasIdentifier,
  substituteRepresentation,
  withoutFormatTags,
} from './template.js';
import {
  attributeValue,
  decodePieces,
  escapeAttribute,
  escapeCdata,
  escapeText,
  scanXml,
  type ContentPiece,
  type DecodedValue,
  type XmlElement,
} from './xml.js';

/**
 * ISO/IEC 23009-1 Annex I: instead of a token in every segment URL, one
 * `<SupplementalProperty schemeIdUri="urn:mpeg:dash:urlparam:2014">` per AdaptationSet holds
 * `<up:UrlQueryInfo queryTemplate="$querypart$" queryString="…"/>`, which tells the player to append
 * `params` to each segment request (useMPDUrlQuery is left false: the MPD's own query is not copied).
 * `params` are name/value pairs already percent-encoded as they must appear in the query.
 *
 * Who honours it: dash.js 5 (`$querypart$` only, not `$query:name$`; on the first attempt of a request,
 * not on retries; it re-encodes values, which base64url tokens survive) and shaka (since July 2024,
 * shaka-player#7086). Players without Annex I ignore a SupplementalProperty and send segment requests
 * without the token, so this mode suits zones whose players are known. Location, PatchLocation, xlink, key, steering and alternative-MPD
 * URLs are outside UrlQueryInfo's reach (2014 scheme: segments only) and still get per-URL tokens.
 */
export interface UrlParamOption {
  readonly params: ReadonlyArray<readonly [name: string, value: string]>;
}

export type DashRewriteOptions = RewriteOptions & { readonly urlParam?: UrlParamOption };

type Base =
  { readonly ok: true; readonly url: URL } | { readonly ok: false; readonly reason: SkippedUri['reason'] };

interface Occurrence {
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
   * The element whose BaseURL chain `base` comes from (see `trustedAt`); absent when the base is the
   * MPD's own URL or the document base.
   */
  readonly baseElement?: XmlElement;
}

interface Edit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

const MPD_PATCH_NS = 'urn:mpeg:dash:schema:mpd-patch:2020';
const URLPARAM_SCHEME = 'urn:mpeg:dash:urlparam:2014';
const URLPARAM_NS = 'urn:mpeg:dash:schema:urlparam:2014';
const SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:/;
// RFC 3986 §3: `scheme://authority` or `//authority`, what a rebase replaces.
const AUTHORITY = /^(?:[a-zA-Z][a-zA-Z0-9+.-]*:)?\/\/[^/?#]*/;
// XML 1.0 §2.3 S: what surrounds an anyURI value in element content and is not part of it.
function isXmlSpace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
}
// RepresentationBaseType (DASH-MPD.xsd): the children that precede SupplementalProperty in an
// AdaptationSet, in schema order. A new SupplementalProperty goes after the last of these.
const BEFORE_SUPPLEMENTAL = new Set([
  'FramePacking',
  'AudioChannelConfiguration',
  'ContentProtection',
  'OutputProtection',
  'EssentialProperty',
  'SupplementalProperty',
]);

const ROWS_BY_ELEMENT = new Map<string, DashUriSite[]>();
for (const row of DASH_URI_SITES) {
  const list = ROWS_BY_ELEMENT.get(row.element) ?? [];
  list.push(row);
  ROWS_BY_ELEMENT.set(row.element, list);
}
const BASE_URL_ROWS = new Map<string, DashUriSite>(
  DASH_URI_SITES.filter((r) => r.level !== undefined).map((r) => [r.level!, r]),
);

function malformed(text: string, reason: string): RewriteResult {
  return { text, rewritten: 0, skipped: [], malformed: reason };
}

function lookupNamespace(text: string, element: XmlElement | undefined, prefix: string): string | undefined {
  const name = prefix === '' ? 'xmlns' : `xmlns:${prefix}`;
  for (let e = element; e; e = e.parent) {
    if (e.attrs.some((a) => a.name === name)) return attributeValue(text, e, name);
  }
  return undefined;
}

function trimRange(value: string): { start: number; end: number } {
  let start = 0;
  let end = value.length;
  while (start < end && isXmlSpace(value.charCodeAt(start))) start += 1;
  while (end > start && isXmlSpace(value.charCodeAt(end - 1))) end -= 1;
  return { start, end };
}

function elementText(text: string, element: XmlElement): string | undefined {
  if (element.children.length > 0) return undefined;
  const decoded = decodePieces(text, element.content, false);
  return decoded.undecodable ? undefined : decoded.value;
}

const plainBases = new WeakMap<URL, PlainBase | null>();

/** The directory of an http(s) base whose path follows its origin verbatim, once per base URL object. */
function plainBase(url: URL): PlainBase | undefined {
  let known = plainBases.get(url);
  if (known === undefined) {
    const directory = baseDirectory(url);
    const path = directory === undefined ? undefined : verbatimDirectoryPath(directory, url.origin);
    known = directory === undefined || path === undefined ? null : { directory, origin: url.origin, path };
    plainBases.set(url, known);
  }
  return known ?? undefined;
}

function resolveAgainst(raw: string, base: Base, fallback: URL): Resolution {
  if (base.ok) return resolveUri(raw, base.url);
  // A reference with its own scheme does not depend on a base that failed to resolve.
  return SCHEME.test(raw.trim()) ? resolveUri(raw, fallback) : base;
}

/** Pre-order walk without recursion: manifests from the network may nest arbitrarily deep. */
function walk(root: XmlElement, visit: (element: XmlElement) => void): void {
  const stack: XmlElement[] = [root];
  while (stack.length > 0) {
    const element = stack.pop()!;
    visit(element);
    for (let i = element.children.length - 1; i >= 0; i -= 1) stack.push(element.children[i]!);
  }
}

/**
 * The Representations a SegmentTemplate attribute applies to: those of its level (a Representation, an
 * AdaptationSet, or the AdaptationSets of a Period) that do not override the attribute with a
 * SegmentTemplate of their own or of their AdaptationSet.
 */
function representationsInScope(template: XmlElement, attribute: string): XmlElement[] {
  const level = template.parent;
  if (!level) return [];
  if (level.local === 'Representation') return [level];
  const overrides = (e: XmlElement): boolean =>
    e.children.some((c) => c.local === 'SegmentTemplate' && c.attrs.some((a) => a.name === attribute));
  const adaptationSets =
    level.local === 'Period'
      ? level.children.filter((c) => c.local === 'AdaptationSet' && !overrides(c))
      : [level];
  const found: XmlElement[] = [];
  for (const adaptationSet of adaptationSets) {
    for (const child of adaptationSet.children) {
      if (child.local === 'Representation' && !overrides(child)) found.push(child);
    }
  }
  return found;
}

function spliceEdit(
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

class DashRewriter {
  private readonly bases = new Map<XmlElement, Base>();
  /** For each element, the nearest AdaptationSet and level (MPD, Period, …, patch operation) at or above it. */
  private readonly scope = new Map<
    XmlElement,
    { readonly adaptationSet: XmlElement | undefined; readonly level: XmlElement | undefined }
  >();
  private readonly namespaces = new Map<string, Map<XmlElement, string | null>>();
  private readonly occurrences: Occurrence[] = [];
  /** The occurrence of each BaseURL element that is a site. */
  private readonly baseUrlSites = new Map<XmlElement, Occurrence>();
  /** Decisions made, some early: `trustedAt` needs those on BaseURLs and the first Location. */
  private readonly decisions = new Map<Occurrence, Decision>();
  /** Per element: whether every base a player may resolve against there is the gateway's (`trustedAt`). */
  private readonly trust = new Map<XmlElement, boolean>();
  private documentBase: Base;
  /** The first Location's site when it is the document base. */
  private documentLocation: XmlElement | undefined;
  private documentTrust: boolean | undefined;

  constructor(
    private readonly text: string,
    private readonly root: XmlElement,
    private readonly patch: boolean,
    private readonly options: DashRewriteOptions,
  ) {
    this.documentBase = { ok: true, url: options.manifestUrl };
  }

  run(): RewriteResult {
    if (!this.patch) {
      // The first Location is the base of the MPD's relative URLs (shaka at once, dash.js from the first
      // reload, which it fetches from the Location).
      const location = this.root.children.find((c) => c.local === 'Location');
      const value = location ? elementText(this.text, location) : undefined;
      if (value !== undefined && value.trim() !== '') {
        const resolved = resolveUri(value, this.options.manifestUrl);
        if (resolved.ok) {
          this.documentBase = resolved;
          this.documentLocation = location;
        }
      }
    }
    walk(this.root, (e) => {
      this.computeBase(e);
      this.computeScope(e);
    });
    walk(this.root, (e) => this.collect(e));

    const skipped: SkippedUri[] = [];
    const granted: Granted[] = [];
    // Occurrences that name a resource (not a directory BaseURL or an empty BaseURL), and whether the
    // tokenizer granted them.
    const named = new Map<Occurrence, boolean>();
    for (const occurrence of this.occurrences) {
      const decision = this.decide(occurrence);
      if (decision.kind === 'none') continue;
      if (decision.kind === 'skipped') {
        named.set(occurrence, false);
        skipped.push(decision.skipped);
        continue;
      }
      if (!decision.directory) named.set(occurrence, true);
      granted.push(decision);
    }

    const edits: Edit[] = [];
    let rewritten = 0;
    const covered = this.options.urlParam ? this.urlParamInsertions(named, edits) : new Set<Occurrence>();
    rewritten += edits.length;
    for (const decision of granted) {
      const { occurrence, grant, decoded, core, directory } = decision;
      // A query on a directory is dropped when children resolve against it (RFC 3986 §5.2.2), and a
      // segment site under UrlQueryInfo needs no token of its own: both only move to the gateway.
      if ((directory && grant.kind === 'query') || covered.has(occurrence)) {
        const edit = this.rebaseEdit(decision);
        if (typeof edit === 'object') edits.push(edit);
        continue;
      }
      const escape = occurrence.row.template ? escapeTemplateText : (s: string): string => s;
      const replacement = applyGrant(core.text, grant, { amp: '&', escape });
      const edit = spliceEdit(
        decoded,
        occurrence.pieces,
        core.start,
        core.end,
        replacement,
        occurrence.quote,
      );
      if (edit === undefined && replacement !== core.text) {
        skipped.push({ site: occurrence.row.site, uri: core.text, reason: 'unparseable' });
        // The token cannot go in, but the URI must still not send the player around the gateway.
        const rebase = this.rebaseEdit(decision);
        if (typeof rebase === 'object') edits.push(rebase);
        continue;
      }
      if (edit) edits.push(edit);
      // A directory given a path token counts; one that keeps its relative text does not.
      if (!directory || edit) rewritten += 1;
    }
    return { text: applyEdits(this.text, edits), rewritten, skipped };
  }

  /**
   * The edit that points a URI with an authority at `grant.rebaseTo`, changing only its scheme and
   * authority: `'unchanged'` when there is nothing to rebase (no rebaseTo, or a reference that follows
   * its base), `undefined` when the edit would cross a comment or CDATA delimiter.
   */
  private rebaseEdit({ occurrence, grant, decoded, core }: Granted): Edit | 'unchanged' | undefined {
    if (grant.rebaseTo === undefined) return 'unchanged';
    const authority = AUTHORITY.exec(core.text);
    if (!authority) return 'unchanged';
    const replacement = grant.rebaseTo + core.text.slice(authority[0].length);
    if (replacement === core.text) return 'unchanged';
    return spliceEdit(decoded, occurrence.pieces, core.start, core.end, replacement, occurrence.quote);
  }

  private decide(occurrence: Occurrence): Decision {
    const known = this.decisions.get(occurrence);
    if (known) return known;
    const decision = this.makeDecision(occurrence);
    this.decisions.set(occurrence, decision);
    return decision;
  }

  private makeDecision(occurrence: Occurrence): Decision {
    const outcome = this.target(occurrence);
    if (outcome === undefined) return NOTHING;
    if ('reason' in outcome) return { kind: 'skipped', skipped: outcome };
    // A directory is offered only to be pointed at the gateway or given a path token; never fetched
    // itself, it is not reported when declined.
    const declined: Decision = outcome.directory
      ? NOTHING
      : {
          kind: 'skipped',
          skipped: { site: occurrence.row.site, uri: outcome.core.text, reason: 'declined' },
        };
    // SPEC §4, a token is never sent to a third party: a URI that follows its base goes wherever the
    // player's BaseURL selection takes it (ISO/IEC 23009-1 §5.6.5 alternatives, DVB priorities, content
    // steering), so it gets a token only when every base it may be resolved against is the gateway's.
    if (!this.baseTrusted(occurrence) && dependence(outcome.core.text) !== 'none') return declined;
    const grant = this.options.tokenize(outcome.target);
    if (grant === undefined) return declined;
    return { kind: 'granted', occurrence, grant, ...outcome };
  }

  private baseTrusted(occurrence: Occurrence): boolean {
    // The MPD's own URL (Location, xlink) is the gateway's.
    if (occurrence.row.resolution === 'manifest') return true;
    return this.trustedAt(occurrence.baseElement);
  }

  /**
   * Whether every base a player may resolve a relative URI against at `element` names the gateway
   * (after rewriting): the first BaseURL of each level and every alternative it may fail over to. The
   * MPD's own URL is the gateway's; a first Location elsewhere is trusted only if it is rebased here.
   * Computed down the ancestor chain without recursion (documents may nest arbitrarily deep).
   */
  private trustedAt(element: XmlElement | undefined): boolean {
    const chain: XmlElement[] = [];
    let e = element;
    while (e !== undefined && !this.trust.has(e)) {
      chain.push(e);
      e = e.parent;
    }
    let trusted = e === undefined ? this.documentTrusted() : this.trust.get(e)!;
    for (let i = chain.length - 1; i >= 0; i -= 1) {
      const level = chain[i]!;
      let alternatives = 0;
      let all = true;
      for (const child of level.children) {
        if (child.local !== 'BaseURL') continue;
        alternatives += 1;
        all = all && this.alternativeTrusted(child, level, trusted);
      }
      if (alternatives > 0) trusted = all;
      this.trust.set(level, trusted);
    }
    return trusted;
  }

  private documentTrusted(): boolean {
    this.documentTrust ??= this.judgeDocument();
    return this.documentTrust;
  }

  private judgeDocument(): boolean {
    const location = this.documentLocation;
    if (!this.documentBase.ok || location === undefined) return true;
    if (this.documentBase.url.origin === this.options.manifestUrl.origin) return true;
    // The Location resolves against the MPD's URL, not against the document base.
    const occurrence = this.occurrences.find((o) => o.element === location);
    return occurrence !== undefined && this.onGateway(this.decide(occurrence));
  }

  /** Whether the BaseURL `alternative` of `level` names the gateway once rewritten. */
  private alternativeTrusted(alternative: XmlElement, level: XmlElement, parentTrusted: boolean): boolean {
    const value = elementText(this.text, alternative);
    if (value === undefined) return false;
    const raw = value.trim();
    // An empty BaseURL repeats its parent's; a relative one stays on its parent's hosts.
    const follows = raw === '' ? 'host' : dependence(raw);
    if (follows === 'host') return parentTrusted;
    if (follows === 'scheme' && !parentTrusted) return false;
    const parentBase = level.parent ? this.bases.get(level.parent)! : this.documentBase;
    const resolved = resolveAgainst(raw, parentBase, this.options.manifestUrl);
    if (!resolved.ok) return false;
    if (resolved.url.origin === this.options.manifestUrl.origin) return true;
    const occurrence = this.baseUrlSites.get(alternative);
    return occurrence !== undefined && this.onGateway(this.decide(occurrence));
  }

  /** A URI elsewhere than the gateway that the tokenizer accepted and that will be rebased to it. */
  private onGateway(decision: Decision): boolean {
    if (decision.kind !== 'granted') return false;
    if (decision.grant.rebaseTo === undefined) return true;
    return AUTHORITY.test(decision.core.text) && this.rebaseEdit(decision) !== undefined;
  }

  private computeScope(element: XmlElement): void {
    const up = element.parent ? this.scope.get(element.parent) : undefined;
    this.scope.set(element, {
      adaptationSet: element.local === 'AdaptationSet' ? element : up?.adaptationSet,
      level: LEVELS.has(element.local) || this.isPatchOperation(element) ? element : up?.level,
    });
  }

  /** The namespace bound to `prefix` at `element`, memoised along the ancestor chain. */
  private namespaceOf(element: XmlElement, prefix: string): string | undefined {
    const name = prefix === '' ? 'xmlns' : `xmlns:${prefix}`;
    let cache = this.namespaces.get(name);
    if (!cache) {
      cache = new Map();
      this.namespaces.set(name, cache);
    }
    const chain: XmlElement[] = [];
    let found: string | null = null;
    for (let e: XmlElement | undefined = element; e; e = e.parent) {
      const known = cache.get(e);
      if (known !== undefined) {
        found = known;
        break;
      }
      chain.push(e);
      if (e.attrs.some((a) => a.name === name)) {
        found = attributeValue(this.text, e, name) ?? null;
        break;
      }
    }
    for (const e of chain) cache.set(e, found);
    return found ?? undefined;
  }

  private computeBase(element: XmlElement): void {
    const parentBase = element.parent ? this.bases.get(element.parent)! : this.documentBase;
    const first = element.children.find((c) => c.local === 'BaseURL');
    if (!first) {
      this.bases.set(element, parentBase);
      return;
    }
    // Several BaseURLs at one level are alternatives (serviceLocation, DVB priority, content steering);
    // children are resolved against the first, as a player does before any failover.
    const value = elementText(this.text, first);
    if (value === undefined) {
      this.bases.set(element, { ok: false, reason: 'unparseable' });
      return;
    }
    if (value.trim() === '') {
      this.bases.set(element, parentBase);
      return;
    }
    const resolved = resolveAgainst(value, parentBase, this.options.manifestUrl);
    this.bases.set(element, resolved.ok ? { ok: true, url: resolved.url } : resolved);
  }

  private baseFor(row: DashUriSite, element: XmlElement): Base {
    switch (row.resolution) {
      case 'manifest':
        return { ok: true, url: this.options.manifestUrl };
      case 'document':
        return this.documentBase;
      case 'parent-base': {
        const level = element.parent;
        return level?.parent ? this.bases.get(level.parent)! : this.documentBase;
      }
      case 'level-base':
        return this.bases.get(element)!;
    }
  }

  private isPatchOperation(element: XmlElement | undefined): boolean {
    return (
      this.patch &&
      element !== undefined &&
      element.parent === this.root &&
      PATCH_OPERATIONS.has(element.local)
    );
  }

  private add(
    row: DashUriSite,
    element: XmlElement,
    pieces: readonly ContentPiece[],
    quote?: '"' | "'",
  ): void {
    let representation: XmlElement | undefined;
    let base = this.baseFor(row, element);
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
        base = this.bases.get(representation)!;
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

  private collect(element: XmlElement): void {
    const local = element.local;
    const parent = element.parent;

    if (local === 'BaseURL' && parent) {
      const level = LEVELS.has(parent.local) ? parent.local : this.patchLevel(parent);
      const row = level === undefined ? undefined : BASE_URL_ROWS.get(level);
      if (row && element.children.length === 0) this.add(row, element, element.content);
    } else if ((local === 'Location' || local === 'PatchLocation') && parent) {
      const atTop = parent === this.root ? !this.patch : this.isPatchOperation(parent);
      if (atTop && element.children.length === 0) {
        this.add(ROWS_BY_ELEMENT.get(local)![0]!, element, element.content);
      }
    } else if (local === 'ContentSteering' && parent && this.steeringParent(parent)) {
      if (element.children.length === 0) this.add(ROWS_BY_ELEMENT.get(local)![0]!, element, element.content);
    } else if (this.isPatchOperation(element)) {
      this.collectOperationText(element);
    }

    for (const row of ROWS_BY_ELEMENT.get(local) ?? []) {
      if (typeof row.value !== 'object') continue;
      const attribute = row.value.attribute;
      if (row.when && !row.when.matches.test(attributeValue(this.text, element, row.when.attribute) ?? ''))
        continue;
      const attr = element.attrs.find((a) => a.name === attribute);
      if (attr)
        this.add(row, element, [{ kind: 'text', start: attr.valueStart, end: attr.valueEnd }], attr.quote);
    }

    for (const attr of element.attrs) {
      const colon = attr.name.indexOf(':');
      if (colon === -1 || attr.name.slice(colon + 1) !== 'href') continue;
      const prefix = attr.name.slice(0, colon);
      const ns = this.namespaceOf(element, prefix);
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

  /** Where a ContentSteering element is one: in ServiceDescription, at MPD level, or added by a patch. */
  private steeringParent(parent: XmlElement): boolean {
    if (parent.local === 'ServiceDescription') return true;
    return parent === this.root ? !this.patch : this.isPatchOperation(parent);
  }

  /** The level a BaseURL directly inside a patch operation belongs to, from the operation's `sel`. */
  private patchLevel(operation: XmlElement): string | undefined {
    if (!this.isPatchOperation(operation)) return undefined;
    const sel = attributeValue(this.text, operation, 'sel');
    const path = sel === undefined ? undefined : parseSel(sel);
    if (!path || path.tail !== undefined) return undefined;
    const steps = [...path.elements];
    // RFC 5261 §4.3: `pos` before/after adds a sibling of the selected element, not a child.
    const pos = attributeValue(this.text, operation, 'pos');
    if (operation.local === 'add' && (pos === 'before' || pos === 'after')) steps.pop();
    if (operation.local === 'replace' || steps[steps.length - 1] === 'BaseURL') steps.pop();
    const level = steps[steps.length - 1];
    return level !== undefined && LEVELS.has(level) ? level : undefined;
  }

  /** RFC 5261 operations whose text content is an attribute value or an element's text. */
  private collectOperationText(operation: XmlElement): void {
    if (operation.children.length > 0) return;
    const sel = attributeValue(this.text, operation, 'sel');
    const path = sel === undefined ? undefined : parseSel(sel);
    if (!path) return;
    let elementName: string | undefined;
    let attribute: string | undefined;
    if (operation.local === 'replace' && typeof path.tail === 'object') {
      elementName = path.elements[path.elements.length - 1];
      attribute = path.tail.attribute;
    } else if (operation.local === 'add' && path.tail === undefined) {
      const type = attributeValue(this.text, operation, 'type');
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
      base: row.resolution === 'manifest' ? { ok: true, url: this.options.manifestUrl } : this.documentBase,
    });
  }

  private target(occurrence: Occurrence): Targeted | SkippedUri | undefined {
    const { row } = occurrence;
    const decoded = decodePieces(this.text, occurrence.pieces, occurrence.quote !== undefined);
    const range = trimRange(decoded.value);
    const core: Core = {
      start: range.start,
      end: range.end,
      text: decoded.value.slice(range.start, range.end),
    };
    if (decoded.undecodable) return { site: row.site, uri: core.text, reason: 'unparseable' };
    // An empty BaseURL only repeats its parent; it names nothing of its own.
    if (core.text === '')
      return row.element === 'BaseURL' ? undefined : { site: row.site, uri: '', reason: 'unparseable' };

    let reference = core.text;
    const representation = occurrence.representation;
    if (representation) {
      const id = attributeValue(this.text, representation, 'id');
      const bandwidthText = attributeValue(this.text, representation, 'bandwidth');
      const bandwidth =
        bandwidthText !== undefined && /^\d+$/.test(bandwidthText) ? Number(bandwidthText) : undefined;
      reference = substituteRepresentation(reference, {
        ...(id === undefined ? {} : { id }),
        ...(bandwidth === undefined ? {} : { bandwidth }),
      });
    }
    if (row.template) reference = withoutFormatTags(reference);
    // The bulk of a long SegmentList: a plain relative path below an http(s) base, resolved by joining
    // strings exactly as WHATWG URL would (src/manifest/hls/fast-path.ts), its URL built only if read.
    if (row.element !== 'BaseURL' && occurrence.base.ok) {
      const base = plainBase(occurrence.base.url);
      const shape = base === undefined ? NOT_PLAIN : classifyReference(reference);
      if (base !== undefined && shape !== NOT_PLAIN) {
        const wildcard = row.template && hasIdentifier(reference);
        const target = plainTarget(row.site, row.resource, wildcard, reference, shape, base);
        if (target !== undefined) return { target, decoded, core, directory: false };
      }
    }
    const resolved = resolveAgainst(reference, occurrence.base, this.options.manifestUrl);
    if (!resolved.ok) return { site: row.site, uri: core.text, reason: resolved.reason };
    // A directory is never requested itself, and players drop its query when resolving children
    // (RFC 3986 §5.2.2): it is offered as a wildcard only so that one naming the upstream origin is
    // pointed at the gateway (rebaseTo), or one in a path-token zone carries the token for its subtree.
    if (row.element === 'BaseURL' && resolved.url.pathname.endsWith('/')) {
      return { target: targetOf(row.site, 'media', true, resolved.url), decoded, core, directory: true };
    }
    return {
      // After a single Representation's identifiers are filled in, `$RepresentationID$/init.mp4` names
      // one file; `$Number$`, `$Time$` and `$SubNumber$` always name many.
      target: targetOf(row.site, row.resource, row.template && hasIdentifier(reference), resolved.url),
      decoded,
      core,
      directory: false,
    };
  }

  /**
   * Annex I mode: inserts one UrlQueryInfo into each AdaptationSet whose every segment site was granted
   * (a declined site means a foreign host or an out-of-scope path: the player would send the query
   * there too). Returns the segment sites that no longer need a token of their own.
   */
  private urlParamInsertions(named: ReadonlyMap<Occurrence, boolean>, edits: Edit[]): Set<Occurrence> {
    // Each segment site has one owner: the AdaptationSet it sits in, or else the level (Period, MPD,
    // patch operation) whose AdaptationSets all use it.
    const ownerOf = new Map<Occurrence, XmlElement>();
    const allGranted = new Map<XmlElement, boolean>();
    for (const [occurrence, granted] of named) {
      if (!occurrence.row.segment) continue;
      const start = occurrence.element.local === 'BaseURL' ? occurrence.element.parent : occurrence.element;
      const scope = start ? this.scope.get(start) : undefined;
      const owner = scope?.adaptationSet ?? scope?.level;
      if (!owner) continue;
      ownerOf.set(occurrence, owner);
      allGranted.set(owner, (allGranted.get(owner) ?? true) && granted);
    }

    // Pre-order: whether every owner on the way down was fully granted, and whether there was one.
    const order: XmlElement[] = [];
    const chain = new Map<XmlElement, { ok: boolean; uses: boolean }>();
    const inserted = new Set<XmlElement>();
    walk(this.root, (e) => {
      order.push(e);
      const state = allGranted.get(e);
      const up = e.parent ? chain.get(e.parent)! : { ok: true, uses: false };
      const here = { ok: up.ok && state !== false, uses: up.uses || state !== undefined };
      chain.set(e, here);
      if (e.local !== 'AdaptationSet' || !here.ok || !here.uses || e.selfClosing) return;
      // A remote AdaptationSet is replaced by the document its xlink:href names.
      if (e.attrs.some((a) => /(^|:)href$/.test(a.name))) return;
      edits.push(this.urlQueryInfoEdit(e));
      inserted.add(e);
    });

    // Post-order: whether every AdaptationSet below an element got the property (and there is one).
    const below = new Map<XmlElement, { all: boolean; any: boolean }>();
    for (let i = order.length - 1; i >= 0; i -= 1) {
      const e = order[i]!;
      const own = below.get(e) ?? { all: true, any: false };
      if (e.local === 'AdaptationSet') {
        own.all = own.all && inserted.has(e);
        own.any = true;
      }
      below.set(e, own);
      if (e.parent) {
        const up = below.get(e.parent) ?? { all: true, any: false };
        up.all = up.all && own.all;
        up.any = up.any || own.any;
        below.set(e.parent, up);
      }
    }
    const covered = new Set<Occurrence>();
    for (const [occurrence, owner] of ownerOf) {
      const state = below.get(owner);
      if (state?.all && state.any) covered.add(occurrence);
    }
    return covered;
  }

  private urlQueryInfoEdit(adaptationSet: XmlElement): Edit {
    const children = adaptationSet.children;
    let anchor = adaptationSet.startTagEnd;
    for (const child of children) if (BEFORE_SUPPLEMENTAL.has(child.local)) anchor = child.end;
    const first = children[0];
    const lead = first ? this.text.slice(adaptationSet.startTagEnd, first.start) : '';
    const indent = /^[ \t]*\r?\n[ \t]*$/.test(lead) ? lead : '';
    const p = adaptationSet.prefix === '' ? '' : `${adaptationSet.prefix}:`;
    const query = this.options.urlParam!.params.map(([name, value]) => `${name}=${value}`).join('&');
    const element =
      `<${p}SupplementalProperty schemeIdUri="${URLPARAM_SCHEME}" xmlns:up="${URLPARAM_NS}">` +
      `<up:UrlQueryInfo queryTemplate="$querypart$" queryString="${escapeAttribute(query, '"')}"/>` +
      `</${p}SupplementalProperty>`;
    return { start: anchor, end: anchor, text: indent + element };
  }
}

interface Core {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

interface Targeted {
  readonly target: UriTarget;
  readonly decoded: DecodedValue;
  readonly core: Core;
  /** A directory BaseURL: a base for others, never requested itself. */
  readonly directory: boolean;
}

interface Granted extends Targeted {
  readonly kind: 'granted';
  readonly occurrence: Occurrence;
  readonly grant: TokenGrant;
}

type Decision =
  { readonly kind: 'none' } | { readonly kind: 'skipped'; readonly skipped: SkippedUri } | Granted;

const NOTHING: Decision = { kind: 'none' };

// Two bases that differ in scheme, host and path.
const PROBE_A = new URL('http://a.invalid/a/');
const PROBE_B = new URL('https://b.invalid/b/');

/**
 * What a reference takes from its base (WHATWG URL, as players resolve): `none` (it names its own
 * scheme and host), `scheme` (`//host/…`: its own host, the base's scheme) or `host` (a relative path,
 * or what cannot be parsed).
 */
function dependence(reference: string): 'none' | 'scheme' | 'host' {
  try {
    const a = new URL(reference, PROBE_A);
    const b = new URL(reference, PROBE_B);
    if (a.href === b.href) return 'none';
    return a.host === b.host ? 'scheme' : 'host';
  } catch {
    return 'host';
  }
}

function applyEdits(text: string, edits: Edit[]): string {
  if (edits.length === 0) return text;
  edits.sort((x, y) => x.start - y.start || x.end - y.end);
  let out = '';
  let at = 0;
  for (const edit of edits) {
    out += text.slice(at, edit.start) + edit.text;
    at = edit.end;
  }
  return out + text.slice(at);
}

/**
 * Rewrites an MPD (or an MPD Patch) so that every URI a player will request carries a token, changing
 * nothing but those URIs (SPEC §4). Choices worth knowing:
 * - Relative URIs resolve through the BaseURL chain (Representation → AdaptationSet → Period → MPD →
 *   first Location or the MPD's URL). Of several BaseURLs at one level the first is used for children;
 *   each leaf alternative is offered to the tokenizer on its own (foreign ones are declined).
 * - A player may fail over to any BaseURL alternative (ISO/IEC 23009-1 §5.6.5, DVB priorities, content
 *   steering) and resolve relative URIs against it. Where any base a relative URI may be resolved
 *   against does not name the gateway once rewritten (another CDN, an upstream BaseURL or Location the
 *   tokenizer declined), that URI gets no token and is reported declined (SPEC §4: a token is never sent
 *   to a third party). URIs with their own scheme and host are judged by the tokenizer as always.
 * - Directory BaseURLs (path ending in `/`) get no query token, only a rebase from the upstream origin
 *   to the gateway (scheme and authority) or a path token; leaf BaseURLs (the media file of SegmentBase
 *   and on-demand profiles) get tokens like any URI.
 * - A template the tokenizer sees as a URL keeps `$Number$`/`$Time$`; its `$RepresentationID$` and
 *   `$Bandwidth$` are filled in when exactly one Representation uses it, so the URL names a real
 *   directory. A template shared by several Representations with `$RepresentationID$` in its directory
 *   cannot be covered by one directory token; the tokenizer decides (the mint strategy declines it).
 * - In an MPD Patch the MPD's BaseURL chain is unknown: values in operation bodies resolve against the
 *   patch's own URL (patches are served next to their MPD), starting a fresh chain inside the body.
 * - A document that is not well-formed XML, or whose root is not `MPD` (or `Patch` in the MPD Patch
 *   namespace), is returned as it is with `malformed` set.
 */
export function rewriteDash(text: string, options: DashRewriteOptions): RewriteResult {
  const scanned = scanXml(text);
  if (!scanned.ok) return malformed(text, `not well-formed XML: ${scanned.reason}`);
  const root = scanned.root;
  let patch = false;
  if (root.local === 'Patch') {
    if (lookupNamespace(text, root, root.prefix) !== MPD_PATCH_NS) {
      return malformed(text, 'root element <Patch> is not in the MPD Patch namespace');
    }
    patch = true;
  } else if (root.local !== 'MPD') {
    return malformed(text, `root element is <${root.name}>, not <MPD>`);
  }
  return new DashRewriter(text, root, patch, options).run();
}
