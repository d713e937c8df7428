import { skipDoctype } from './xml.js';

export { rewriteDash, type DashRewriteOptions, type UrlParamOption } from './rewrite.js';
export { DASH_URI_SITES, type DashUriSite, type DashResolution } from './sites.js';

const SNIFF_LIMIT = 64 * 1024;

/**
 * Recognises an MPD by its root element: `<MPD` (any namespace prefix) after an optional BOM, XML
 * declaration, comments, processing instructions and a DOCTYPE. An MPD Patch (`<Patch` in the
 * `urn:mpeg:dash:schema:mpd-patch:2020` namespace) counts too: it is rewritten by the same function.
 */
export function looksLikeDash(text: string): boolean {
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const limit = Math.min(text.length, SNIFF_LIMIT);
  while (i < limit) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i += 1;
      continue;
    }
    if (c !== '<') return false;
    if (text.startsWith('<?', i)) {
      const close = text.indexOf('?>', i + 2);
      if (close === -1) return false;
      i = close + 2;
    } else if (text.startsWith('<!--', i)) {
      const close = text.indexOf('-->', i + 4);
      if (close === -1) return false;
      i = close + 3;
    } else if (text.startsWith('<!DOCTYPE', i)) {
      const after = skipDoctype(text, i + 9);
      if (after === -1) return false;
      i = after;
    } else {
      const tag = /^<(?:[A-Za-z_][\w.-]*:)?(MPD|Patch)(?=[\s/>])/.exec(text.slice(i, i + 200));
      if (!tag) return false;
      if (tag[1] === 'MPD') return true;
      const end = text.indexOf('>', i);
      return end !== -1 && text.slice(i, end).includes('urn:mpeg:dash:schema:mpd-patch:');
    }
  }
  return false;
}
