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
  walk,
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

interface Granted extends Targeted {
  readonly kind: 'granted';
  readonly occurrence: Occurrence;
  readonly grant: TokenGrant;
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
 * One rewrite: bases and scopes down the tree, then the sites, then a decision per site (some made
 * early: trust in a base needs those on BaseURLs and the first Location), then the edits.
 */
class DashRewriter {
  private readonly bases: BaseChain;
  private readonly sites: SiteCollector;
  private readonly trust: BaseTrust;
  private readonly decisions = new Map<Occurrence, Decision>();
  /** BaseURL elements that some other site resolves against (see `leafBaseUrlAlone`). */
  private readonly basesUsed = new Set<XmlElement>();

  constructor(private readonly doc: DashDocument) {
    this.bases = new BaseChain(doc);
    this.sites = new SiteCollector(doc, this.bases);
    this.trust = new BaseTrust(doc, this.bases, {
      locationOnGateway: (location) => {
        const occurrence = this.sites.occurrences.find((o) => o.element === location);
        return occurrence !== undefined && onGateway(this.decide(occurrence));
      },
      baseUrlOnGateway: (baseUrl) => {
        const occurrence = this.sites.baseUrlSites.get(baseUrl);
        return occurrence !== undefined && onGateway(this.decide(occurrence));
      },
    });
  }

  run(): RewriteResult {
    const { doc, bases, sites } = this;
    bases.findDocumentBase();
    walk(doc.root, (e) => {
      bases.compute(e);
      sites.computeScope(e);
    });
    walk(doc.root, (e) => sites.collect(e));
    for (const occurrence of sites.occurrences) {
      for (let e = occurrence.baseElement; e; e = e.parent) {
        const first = e.children.find((c) => c.local === 'BaseURL');
        if (first === undefined) continue;
        this.basesUsed.add(first);
        break;
      }
    }

    const skipped: SkippedUri[] = [];
    const granted: Granted[] = [];
    // Occurrences that name a resource (not a directory BaseURL or an empty BaseURL), and whether the
    // tokenizer granted them.
    const named = new Map<Occurrence, boolean>();
    for (const occurrence of sites.occurrences) {
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
    const urlParam = doc.options.urlParam;
    const covered = urlParam
      ? urlParamInsertions(doc, urlParam, sites.scope, named, edits)
      : new Set<Occurrence>();
    rewritten += edits.length;
    for (const decision of granted) {
      const { occurrence, grant, decoded, core, directory } = decision;
      // A query on a directory is dropped when children resolve against it (RFC 3986 §5.2.2), and a
      // segment site under UrlQueryInfo needs no token of its own: both only move to the gateway.
      if ((directory && grant.kind === 'query') || covered.has(occurrence)) {
        const edit = rebaseEdit(decision);
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
        const rebase = rebaseEdit(decision);
        if (typeof rebase === 'object') edits.push(rebase);
        continue;
      }
      if (edit) edits.push(edit);
      // A directory given a path token counts; one that keeps its relative text does not.
      if (!directory || edit) rewritten += 1;
    }
    return { text: applyEdits(doc.text, edits), rewritten, skipped };
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
    const grant = this.doc.options.tokenize(outcome.target);
    if (grant === undefined) return declined;
    return { kind: 'granted', occurrence, grant, ...outcome };
  }

  private baseTrusted(occurrence: Occurrence): boolean {
    // The MPD's own URL (Location, xlink) is the gateway's.
    if (occurrence.row.resolution === 'manifest') return true;
    return this.trust.at(occurrence.baseElement);
  }

  private target(occurrence: Occurrence): Targeted | SkippedUri | undefined {
    const { row } = occurrence;
    const text = this.doc.text;
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
        if (target !== undefined) return { target, decoded, core, directory: false };
      }
    }
    const resolved = resolveAgainst(reference, occurrence.base, this.doc.options.manifestUrl);
    if (!resolved.ok) return { site: row.site, uri: core.text, reason: resolved.reason };
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

  /**
   * A dynamic MPD's SegmentTemplate is kept for the whole session by shaka and VLC, which read it from
   * the first MPD they load and never again: its token needs the lifetime of a reloaded resource.
   */
  private resourceOf(row: DashUriSite): ResourceClass {
    return this.doc.dynamic && row.element === 'SegmentTemplate' ? 'playlist' : row.resource;
  }
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
      const rescanned = scanXml(inserted);
      // The insertion is one well-formed element after a child or the start tag: it cannot fail.
      if (rescanned.ok) {
        source = inserted;
        root = rescanned.root;
      }
    }
  }
  return new DashRewriter({ text: source, root, patch, dynamic, options }).run();
}
