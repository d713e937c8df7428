import { DEFAULT_MANIFEST_LIMITS, ExpansionBudget, type LimitExceeded } from '../limits.js';
import type { ResourceClass, RewriteResult, SkippedUri, TokenGrant, UriTarget } from '../types.js';
import { classifyReference, NOT_PLAIN, plainTarget } from '../hls/fast-path.js';
import { applyGrant, targetOf } from '../uri.js';
import { BaseChain, plainBase, resolveAgainst } from './base.js';
import { SiteCollector, type Occurrence } from './collect.js';
import {
  lookupNamespace,
  malformed,
  MPD_PATCH_NS,
  trimRange,
  walkScoped,
  type DashDocument,
  type DashRewriteOptions,
} from './document.js';
import { applyEdits, spliceEdit, type Edit } from './edits.js';
import { withInsertedLocation } from './location.js';
import { forRepresentation } from './representation.js';
import type { DashUriSite } from './sites.js';
import { escapeTemplateText, hasIdentifier, withoutFormatTags } from './template.js';
import { BaseTrust, dependence } from './trust.js';
import { urlParamInsertions } from './url-query-info.js';
import { attributeValue, decodePieces, scanXml, type DecodedValue, type XmlElement } from './xml.js';

export type { DashRewriteOptions } from './document.js';
export type { UrlParamOption } from './url-query-info.js';

// RFC 3986 §3: `scheme://authority` or `//authority`, what a rebase replaces.
const AUTHORITY = /^(?:[a-zA-Z][a-zA-Z0-9+.-]*:)?\/\/[^/?#]*/;

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

/** A granted site: what its edit needs (not its target, which may be a long URL). */
interface Granted {
  readonly kind: 'granted';
  readonly occurrence: Occurrence;
  readonly grant: TokenGrant;
  readonly decoded: DecodedValue;
  readonly core: Core;
  readonly directory: boolean;
}

type Decision =
  { readonly kind: 'none' } | { readonly kind: 'skipped'; readonly skipped: SkippedUri } | Granted;

const NOTHING: Decision = { kind: 'none' };

/**
 * The edit that points a URI with an authority at `grant.rebaseTo`, changing only its scheme and
 * authority: `'unchanged'` when there is nothing to rebase (no rebaseTo, or a reference that follows
 * its base), `undefined` when the edit would cross a comment or CDATA delimiter.
 */
function rebaseEdit({ occurrence, grant, decoded, core }: Granted): Edit | 'unchanged' | undefined {
  if (grant.rebaseTo === undefined) return 'unchanged';
  const authority = AUTHORITY.exec(core.text);
  if (!authority) return 'unchanged';
  const replacement = grant.rebaseTo + core.text.slice(authority[0].length);
  if (replacement === core.text) return 'unchanged';
  return spliceEdit(decoded, occurrence.pieces, core.start, core.end, replacement, occurrence.quote);
}

/** A URI elsewhere than the gateway that the tokenizer accepted and that will be rebased to it. */
function onGateway(decision: Decision): boolean {
  if (decision.kind !== 'granted') return false;
  if (decision.grant.rebaseTo === undefined) return true;
  return AUTHORITY.test(decision.core.text) && rebaseEdit(decision) !== undefined;
}

/**
 * One rewrite: the bases down the tree, then one walk that finds each site and decides it on the spot
 * (trust in a base may decide the BaseURL and Location sites it depends on before the walk reaches
 * them), then the edits. In Annex I mode every decision is needed before the first edit.
 */
class DashRewriter {
  private readonly bases: BaseChain;
  private readonly sites: SiteCollector;
  private readonly trust: BaseTrust;
  private readonly decisions = new Map<Occurrence, Decision>();
  /** BaseURL elements that some other site resolves against (see `target`). */
  private readonly basesUsed = new Set<XmlElement>();
  /** Per element: the first BaseURL child at or above it (null: none up to the root). */
  private readonly baseAbove = new Map<XmlElement, XmlElement | null>();
  private readonly skipped: SkippedUri[] = [];
  private readonly edits: Edit[] = [];
  private rewritten = 0;

  constructor(private readonly doc: DashDocument) {
    this.bases = new BaseChain(doc);
    this.sites = new SiteCollector(doc, this.bases);
    const onGatewayAt = (element: XmlElement): boolean => {
      const occurrence = this.sites.textSite(element);
      return occurrence !== undefined && onGateway(this.decide(occurrence));
    };
    this.trust = new BaseTrust(doc, this.bases, {
      locationOnGateway: onGatewayAt,
      baseUrlOnGateway: onGatewayAt,
    });
  }

  run(): RewriteResult {
    const { doc, bases, sites } = this;
    const budget = doc.budget;
    bases.findDocumentBase();
    const within = walkScoped(
      doc.root,
      (e) => {
        bases.compute(e);
        return !budget.exceeded;
      },
      () => {},
    );
    if (!within) return overLimit(doc.text, budget.limit('the BaseURLs'));
    // Which BaseURLs other sites resolve against: known before any BaseURL is decided, as the walk
    // below reaches a level's BaseURL before the sites that follow it.
    walkScoped(
      doc.root,
      (e) => {
        sites.enter(e);
        sites.collect(e, (occurrence) => {
          const used = this.firstBaseAbove(occurrence.baseElement);
          if (used !== undefined) this.basesUsed.add(used);
        });
        return true;
      },
      (e) => sites.leave(e),
    );

    const urlParam = doc.options.urlParam;
    // Occurrences that name a resource (not a directory BaseURL or an empty BaseURL), and whether the
    // tokenizer granted them (Annex I mode only).
    const named = new Map<Occurrence, boolean>();
    const granted: Granted[] = [];
    const visit = (occurrence: Occurrence): void => {
      const decision = this.decide(occurrence);
      if (decision.kind === 'none') return;
      if (decision.kind === 'skipped') {
        if (urlParam) named.set(occurrence, false);
        this.skipped.push(decision.skipped);
        return;
      }
      if (!urlParam) {
        this.apply(decision, false);
        return;
      }
      if (!decision.directory) named.set(occurrence, true);
      granted.push(decision);
    };
    const walked = walkScoped(
      doc.root,
      (e) => {
        sites.enter(e);
        sites.collect(e, visit);
        return !budget.exceeded;
      },
      (e) => sites.leave(e),
    );
    if (!walked) return overLimit(doc.text, budget.limit('the URIs'));

    if (urlParam) {
      const covered = urlParamInsertions(doc, urlParam, named, this.edits);
      this.rewritten += this.edits.length;
      for (const decision of granted) this.apply(decision, covered.has(decision.occurrence));
    }
    return { text: applyEdits(doc.text, this.edits), rewritten: this.rewritten, skipped: this.skipped };
  }

  /** The first BaseURL child of `element` or of its nearest ancestor that has one; memoised per element. */
  private firstBaseAbove(element: XmlElement | undefined): XmlElement | undefined {
    const chain: XmlElement[] = [];
    let found: XmlElement | null = null;
    for (let e = element; e !== undefined; e = e.parent) {
      const known = this.baseAbove.get(e);
      if (known !== undefined) {
        found = known;
        break;
      }
      chain.push(e);
      const first = e.children.find((c) => c.local === 'BaseURL');
      if (first !== undefined) {
        found = first;
        break;
      }
    }
    for (const e of chain) this.baseAbove.set(e, found);
    return found ?? undefined;
  }

  /**
   * A dynamic MPD's SegmentTemplate is kept for the whole session by shaka and VLC, which read it from
   * the first MPD they load and never again: its token needs the lifetime of a reloaded resource.
   */
  private resourceOf(row: DashUriSite): ResourceClass {
    return this.doc.dynamic && row.element === 'SegmentTemplate' ? 'playlist' : row.resource;
  }

  /** The edit for a granted site; `covered`: a segment site that UrlQueryInfo gives the token. */
  private apply(decision: Granted, covered: boolean): void {
    const { occurrence, grant, decoded, core, directory } = decision;
    // A query on a directory is dropped when children resolve against it (RFC 3986 §5.2.2), and a
    // segment site under UrlQueryInfo needs no token of its own: both only move to the gateway.
    if ((directory && grant.kind === 'query') || covered) {
      const edit = rebaseEdit(decision);
      if (typeof edit === 'object') this.edits.push(edit);
      return;
    }
    const escape = occurrence.row.template ? escapeTemplateText : (s: string): string => s;
    const replacement = applyGrant(core.text, grant, { amp: '&', escape });
    const edit = spliceEdit(decoded, occurrence.pieces, core.start, core.end, replacement, occurrence.quote);
    if (edit === undefined && replacement !== core.text) {
      this.skipped.push({ site: occurrence.row.site, uri: core.text, reason: 'unparseable' });
      // The token cannot go in, but the URI must still not send the player around the gateway.
      const rebase = rebaseEdit(decision);
      if (typeof rebase === 'object') this.edits.push(rebase);
      return;
    }
    if (edit) this.edits.push(edit);
    // A directory given a path token counts; one that keeps its relative text does not.
    if (!directory || edit) this.rewritten += 1;
  }

  /**
   * The decision on a site. Those on BaseURL and Location text are kept: trust in a base asks for
   * them, before or after the walk reaches them; every other site is decided once, when reached.
   */
  private decide(occurrence: Occurrence): Decision {
    const known = this.decisions.get(occurrence);
    if (known) return known;
    const decision = this.makeDecision(occurrence);
    const local = occurrence.element.local;
    const textSite = local === 'BaseURL' || local === 'Location' || local === 'PatchLocation';
    if (textSite && this.sites.textSite(occurrence.element) === occurrence) {
      this.decisions.set(occurrence, decision);
    }
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
    // a token is never sent to a third party: a URI that follows its base goes wherever the
    // player's BaseURL selection takes it (ISO/IEC 23009-1 §5.6.5 alternatives, DVB priorities, content
    // steering), so it gets a token only when every base it may be resolved against is the gateway's.
    if (!this.baseTrusted(occurrence) && dependence(outcome.core.text) !== 'none') return declined;
    const grant = this.doc.options.tokenize(outcome.target);
    if (grant === undefined) return declined;
    const { decoded, core, directory } = outcome;
    return { kind: 'granted', occurrence, grant, decoded, core, directory };
  }

  private baseTrusted(occurrence: Occurrence): boolean {
    // The MPD's own URL (Location, xlink) is the gateway's.
    if (occurrence.row.resolution === 'manifest') return true;
    return this.trust.at(occurrence.baseElement);
  }

  private target(occurrence: Occurrence): Targeted | SkippedUri | undefined {
    const { row } = occurrence;
    const text = this.doc.text;
    const budget = this.doc.budget;
    const decoded = decodePieces(text, occurrence.pieces, occurrence.quote !== undefined);
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
    const resource = this.resourceOf(row);
    const representation = occurrence.representation;
    if (representation) reference = forRepresentation(text, representation, reference);
    if (row.template) reference = withoutFormatTags(reference);
    // The bulk of a long SegmentList: a plain relative path below an http(s) base, resolved by joining
    // strings exactly as WHATWG URL would (src/manifest/hls/fast-path.ts), its URL built only if read.
    if (row.element !== 'BaseURL' && occurrence.base.ok) {
      const base = plainBase(occurrence.base.url);
      const shape = base === undefined ? NOT_PLAIN : classifyReference(reference);
      if (base !== undefined && shape !== NOT_PLAIN) {
        const wildcard = row.template && hasIdentifier(reference);
        const target = plainTarget(row.site, resource, wildcard, reference, shape, base);
        if (target !== undefined) {
          budget.spend(base.directory.length + reference.length);
          return { target, decoded, core, directory: false };
        }
      }
    }
    const resolved = resolveAgainst(reference, occurrence.base, this.doc.options.manifestUrl);
    if (!resolved.ok) return { site: row.site, uri: core.text, reason: resolved.reason };
    budget.spend(resolved.url.href.length);
    // A directory is never requested itself, and players drop its query when resolving children
    // (RFC 3986 §5.2.2): it is offered as a wildcard only so that one naming the upstream origin is
    // pointed at the gateway (rebaseTo), or one in a path-token zone carries the token for its subtree.
    if (row.element === 'BaseURL' && resolved.url.pathname.endsWith('/')) {
      return { target: targetOf(row.site, 'media', true, resolved.url), decoded, core, directory: true };
    }
    // After a single Representation's identifiers are filled in, `$RepresentationID$/init.mp4` names
    // one file; `$Number$`, `$Time$` and `$SubNumber$` always name many.
    const target = targetOf(row.site, resource, row.template && hasIdentifier(reference), resolved.url);
    // A leaf BaseURL is where ffmpeg's DASH demuxer mangles a query (src/tokens/path-form.ts). One that
    // other sites resolve against keeps a query: a token in its path would reach them too, beside theirs.
    const pathForm = row.element === 'BaseURL' && !this.basesUsed.has(occurrence.element);
    return {
      target: pathForm ? { ...target, preferPathToken: true } : target,
      decoded,
      core,
      directory: false,
    };
  }
}

/**
 * Rewrites an MPD (or an MPD Patch) so that every URI a player will request carries a token, changing
 * nothing but those URIs (README "The token strategies"). Choices worth knowing:
 * - Relative URIs resolve through the BaseURL chain (Representation → AdaptationSet → Period → MPD →
 *   first Location or the MPD's URL). Of several BaseURLs at one level the first is used for children;
 *   each leaf alternative is offered to the tokenizer on its own (foreign ones are declined).
 * - A player may fail over to any BaseURL alternative (ISO/IEC 23009-1 §5.6.5, DVB priorities, content
 *   steering) and resolve relative URIs against it. Where any base a relative URI may be resolved
 *   against does not name the gateway once rewritten (another CDN, an upstream BaseURL or Location the
 *   tokenizer declined), that URI gets no token and is reported declined (a token is never sent
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
  const limits = options.limits ?? DEFAULT_MANIFEST_LIMITS;
  const scanned = scanXml(text, limits);
  if (!scanned.ok) {
    if (scanned.limit) return overLimit(text, scanned.limit);
    return malformed(text, `not well-formed XML: ${scanned.reason}`);
  }
  let root: XmlElement = scanned.root;
  let patch = false;
  if (root.local === 'Patch') {
    if (lookupNamespace(text, root, root.prefix) !== MPD_PATCH_NS) {
      return malformed(text, 'root element <Patch> is not in the MPD Patch namespace');
    }
    patch = true;
  } else if (root.local !== 'MPD') {
    return malformed(text, `root element is <${root.name}>, not <MPD>`);
  }
  // An MPD Patch exists only for a dynamic MPD (ISO/IEC 23009-1 §5.15).
  const dynamic = patch || attributeValue(text, root, 'type')?.trim() === 'dynamic';
  let source = text;
  if (dynamic && !patch && options.insertLocation !== undefined) {
    const inserted = withInsertedLocation(text, root, options.insertLocation);
    if (inserted !== undefined) {
      const rescanned = scanXml(inserted, limits);
      // The insertion is one well-formed element after a child or the start tag: it cannot fail.
      if (rescanned.ok) {
        source = inserted;
        root = rescanned.root;
      }
    }
  }
  const budget = new ExpansionBudget(source.length, limits);
  return new DashRewriter({ text: source, root, patch, dynamic, options, budget }).run();
}

function overLimit(text: string, limit: LimitExceeded): RewriteResult {
  return { text, rewritten: 0, skipped: [], limit };
}
