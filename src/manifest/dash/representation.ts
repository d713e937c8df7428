/**
 * Per-Representation handling of SegmentTemplate values: which Representations one template applies
 * to, and the template text with the identifiers fixed for one of them filled in.
 */
import { substituteRepresentation } from './template.js';
import { attributeValue, type XmlElement } from './xml.js';

/**
 * The Representations a SegmentTemplate attribute applies to: those of its level (a Representation, an
 * AdaptationSet, or the AdaptationSets of a Period) that do not override the attribute with a
 * SegmentTemplate of their own or of their AdaptationSet.
 */
export function representationsInScope(template: XmlElement, attribute: string): XmlElement[] {
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

/**
 * `template` with the Representation's `$RepresentationID$` and `$Bandwidth$` filled in from its `id`
 * and `bandwidth` attributes (ISO/IEC 23009-1 §5.3.9.4.4); `$Number$` and `$Time$` stay.
 */
export function forRepresentation(text: string, representation: XmlElement, template: string): string {
  const id = attributeValue(text, representation, 'id');
  const bandwidthText = attributeValue(text, representation, 'bandwidth');
  const bandwidth =
    bandwidthText !== undefined && /^\d+$/.test(bandwidthText) ? Number(bandwidthText) : undefined;
  return substituteRepresentation(template, {
    ...(id === undefined ? {} : { id }),
    ...(bandwidth === undefined ? {} : { bandwidth }),
  });
}
