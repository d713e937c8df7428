/**
 * A Location for dynamic MPDs that name none (ffmpeg's DASH muxer and many packagers write none).
 * ISO/IEC 23009-1 §5.4.1: a player reloads a dynamic MPD from its first Location when there is one,
 * else from the URL it first fetched. That URL is the viewer's entry link, often signed to expire
 * within seconds; dash.js stops with a 410 on its first reload after it expires. With a Location of
 * its own URL, the tokenizer gives the reload URL the token of a reloaded resource (in `mint`, the
 * playlist lifetime), and dash.js, shaka and video.js reload from there. The URL is absolute: video.js
 * (VHS) resolves a relative Location against the page, not against the MPD.
 */
import { childInsertion } from './edits.js';
import { escapeText, type XmlElement } from './xml.js';

// DASH-MPD.xsd MPDtype: ProgramInformation*, BaseURL*, Location*, PatchLocation*, … in this order.
const BEFORE_LOCATION: ReadonlySet<string> = new Set(['ProgramInformation', 'BaseURL', 'Location']);

/**
 * `text` with `<Location>url</Location>` inserted into the MPD element `root`, or undefined when the
 * MPD names a Location already (its own choice stands) or has no content to hold one.
 */
export function withInsertedLocation(text: string, root: XmlElement, url: string): string | undefined {
  if (root.selfClosing || root.children.some((child) => child.local === 'Location')) return undefined;
  // The MPD's own prefix, so the element is in the MPD namespace however the document binds it.
  const name = root.prefix === '' ? 'Location' : `${root.prefix}:Location`;
  const edit = childInsertion(text, root, `<${name}>${escapeText(url)}</${name}>`, BEFORE_LOCATION);
  return text.slice(0, edit.start) + edit.text + text.slice(edit.end);
}
