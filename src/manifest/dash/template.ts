/**
 * ISO/IEC 23009-1 §5.3.9.4.4 URL templates: `$<Identifier>[%0<width><type>]$`, with `$$` for a literal
 * `$`. Identifiers are read left to right in `$…$` pairs, as shaka (`mpd_utils.js`) and dash.js
 * (`processUriTemplate`) do.
 */

const IDENTIFIER = /^(RepresentationID|Number|SubNumber|Bandwidth|Time)(?:%0(\d+)([diouxX]))?$/;

interface TemplatePart {
  readonly literal?: string;
  readonly identifier?: string;
  readonly width?: number;
  readonly type?: string;
  /** Raw `$…$` text (kept for identifiers this module does not substitute). */
  readonly raw: string;
}

function parts(template: string): TemplatePart[] {
  const out: TemplatePart[] = [];
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('$', i);
    if (open === -1) {
      out.push({ literal: template.slice(i), raw: template.slice(i) });
      break;
    }
    if (open > i) out.push({ literal: template.slice(i, open), raw: template.slice(i, open) });
    const close = template.indexOf('$', open + 1);
    if (close === -1) {
      // An unpaired `$` has no meaning; players leave it as it is.
      out.push({ literal: template.slice(open), raw: template.slice(open) });
      break;
    }
    const inner = template.slice(open + 1, close);
    const raw = template.slice(open, close + 1);
    if (inner === '') out.push({ literal: '$', raw });
    else {
      const match = IDENTIFIER.exec(inner);
      if (match) {
        out.push({
          identifier: match[1]!,
          ...(match[2] === undefined ? {} : { width: Number(match[2]), type: match[3]! }),
          raw,
        });
      } else out.push({ literal: raw, raw });
    }
    i = close + 1;
  }
  return out;
}

/** True when the template names more than one file (it holds an identifier, not only `$$`). */
export function hasIdentifier(template: string): boolean {
  return template.includes('$') && parts(template).some((p) => p.identifier !== undefined);
}

/** §5.3.9.4.4: inserted text must not be read as an identifier. */
export function escapeTemplateText(text: string): string {
  return text.replace(/\$/g, '$$$$');
}

function format(value: number, width: number | undefined, type: string | undefined): string {
  let digits: string;
  switch (type) {
    case 'o':
      digits = value.toString(8);
      break;
    case 'x':
      digits = value.toString(16);
      break;
    case 'X':
      digits = value.toString(16).toUpperCase();
      break;
    default:
      digits = String(value);
  }
  return width === undefined ? digits : digits.padStart(width, '0');
}

/**
 * Drops the width tags (`$Number%05d$` → `$Number$`). A URL built from the template text would
 * otherwise hold `%05`, which any reader of the URL takes for a percent-encoded control character.
 */
export function withoutFormatTags(template: string): string {
  return parts(template)
    .map((p) => (p.identifier !== undefined && p.width !== undefined ? `$${p.identifier}$` : p.raw))
    .join('');
}

/**
 * Substitutes the identifiers that are fixed for one Representation (`$RepresentationID$`,
 * `$Bandwidth$`), leaving `$Number$`, `$Time$`, `$SubNumber$` and `$$` as they are.
 */
export function substituteRepresentation(
  template: string,
  representation: { readonly id?: string; readonly bandwidth?: number },
): string {
  return parts(template)
    .map((p) => {
      if (p.identifier === 'RepresentationID' && representation.id !== undefined && p.width === undefined) {
        return escapeTemplateText(representation.id);
      }
      if (p.identifier === 'Bandwidth' && representation.bandwidth !== undefined) {
        return format(representation.bandwidth, p.width, p.type);
      }
      return p.raw;
    })
    .join('');
}
