import type { Occurrence } from './collect.js';
import { isPatchOperation, walk, type DashDocument } from './document.js';
import { LEVELS } from './sites.js';
import { childInsertion, type Edit } from './edits.js';
import { escapeAttribute, type XmlElement } from './xml.js';

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

const URLPARAM_SCHEME = 'urn:mpeg:dash:urlparam:2014';
const URLPARAM_NS = 'urn:mpeg:dash:schema:urlparam:2014';

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

/**
 * Annex I mode: inserts one UrlQueryInfo into each AdaptationSet whose every segment site was granted
 * (a declined site means a foreign host or an out-of-scope path: the player would send the query
 * there too). `named` holds the occurrences that name a resource and whether each was granted.
 * Returns the segment sites that no longer need a token of their own.
 */
export function urlParamInsertions(
  doc: DashDocument,
  option: UrlParamOption,
  named: ReadonlyMap<Occurrence, boolean>,
  edits: Edit[],
): Set<Occurrence> {
  // For each element, the nearest AdaptationSet and level (MPD, Period, …, patch operation) at or
  // above it.
  const scope = new Map<XmlElement, { adaptationSet?: XmlElement; level?: XmlElement }>();
  walk(doc.root, (element) => {
    const up = element.parent ? scope.get(element.parent) : undefined;
    scope.set(element, {
      adaptationSet: element.local === 'AdaptationSet' ? element : up?.adaptationSet,
      level: LEVELS.has(element.local) || isPatchOperation(doc, element) ? element : up?.level,
    });
  });

  // Each segment site has one owner: the AdaptationSet it sits in, or else the level (Period, MPD,
  // patch operation) whose AdaptationSets all use it.
  const ownerOf = new Map<Occurrence, XmlElement>();
  const allGranted = new Map<XmlElement, boolean>();
  for (const [occurrence, granted] of named) {
    if (!occurrence.row.segment) continue;
    const start = occurrence.element.local === 'BaseURL' ? occurrence.element.parent : occurrence.element;
    const here = start ? scope.get(start) : undefined;
    const owner = here?.adaptationSet ?? here?.level;
    if (!owner) continue;
    ownerOf.set(occurrence, owner);
    allGranted.set(owner, (allGranted.get(owner) ?? true) && granted);
  }

  // Pre-order: whether every owner on the way down was fully granted, and whether there was one.
  const order: XmlElement[] = [];
  const chain = new Map<XmlElement, { ok: boolean; uses: boolean }>();
  const inserted = new Set<XmlElement>();
  walk(doc.root, (e) => {
    order.push(e);
    const state = allGranted.get(e);
    const up = e.parent ? chain.get(e.parent)! : { ok: true, uses: false };
    const here = { ok: up.ok && state !== false, uses: up.uses || state !== undefined };
    chain.set(e, here);
    if (e.local !== 'AdaptationSet' || !here.ok || !here.uses || e.selfClosing) return;
    // A remote AdaptationSet is replaced by the document its xlink:href names.
    if (e.attrs.some((a) => /(^|:)href$/.test(a.name))) return;
    edits.push(urlQueryInfoEdit(doc.text, option, e));
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

function urlQueryInfoEdit(text: string, option: UrlParamOption, adaptationSet: XmlElement): Edit {
  const p = adaptationSet.prefix === '' ? '' : `${adaptationSet.prefix}:`;
  const query = option.params.map(([name, value]) => `${name}=${value}`).join('&');
  const element =
    `<${p}SupplementalProperty schemeIdUri="${URLPARAM_SCHEME}" xmlns:up="${URLPARAM_NS}">` +
    `<up:UrlQueryInfo queryTemplate="$querypart$" queryString="${escapeAttribute(query, '"')}"/>` +
    `</${p}SupplementalProperty>`;
  return childInsertion(text, adaptationSet, element, BEFORE_SUPPLEMENTAL);
}
