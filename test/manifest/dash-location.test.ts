import { describe, expect, it } from 'vitest';
import { rewriteDash } from '../../src/manifest/dash/index.js';
import type { PathGrant } from '../../src/manifest/types.js';
import { applyGrant } from '../../src/manifest/uri.js';
import { MANIFEST_URL, testTokenizer } from './dash-helpers.js';

// ISO/IEC 23009-1 §5.4.1: a dynamic MPD is reloaded from its first Location; one that names none gets
// its own URL (src/manifest/dash/location.ts). And the relative path grants of src/tokens/path-form.ts.

const SELF = 'https://gw.example/live/ch1/manifest.mpd';
const rewrite = (text: string) =>
  rewriteDash(text, { manifestUrl: MANIFEST_URL, tokenize: testTokenizer(), insertLocation: SELF });

describe('a Location for a dynamic MPD that names none', () => {
  it('goes after ProgramInformation and BaseURL (DASH-MPD.xsd order), in the MPD namespace prefix of the document', () => {
    const text =
      '<mpd:MPD xmlns:mpd="urn:mpeg:dash:schema:mpd:2011" type="dynamic">' +
      '<mpd:ProgramInformation/><mpd:BaseURL>media/</mpd:BaseURL><mpd:Period/></mpd:MPD>';
    expect(rewrite(text).text).toBe(
      '<mpd:MPD xmlns:mpd="urn:mpeg:dash:schema:mpd:2011" type="dynamic">' +
        '<mpd:ProgramInformation/><mpd:BaseURL>media/</mpd:BaseURL>' +
        `<mpd:Location>${SELF}?tok=P</mpd:Location><mpd:Period/></mpd:MPD>`,
    );
  });

  it('is not added to a static MPD, to one that names a Location, to an empty MPD element, or to a patch', () => {
    const unchanged = [
      '<MPD type="static"><Period/></MPD>',
      '<MPD><Period/></MPD>',
      '<MPD type="dynamic"/>',
      '<Patch xmlns="urn:mpeg:dash:schema:mpd-patch:2020" mpdId="a" originalPublishTime="2024-01-01T00:00:00Z" publishTime="2024-01-01T00:00:02Z"/>',
    ];
    for (const text of unchanged) expect(rewrite(text).text, text).toBe(text);
    const located = '<MPD type="dynamic"><Location>other.mpd</Location><Period/></MPD>';
    expect(rewrite(located).text).toBe(
      '<MPD type="dynamic"><Location>other.mpd?tok=P</Location><Period/></MPD>',
    );
  });

  it('escapes the URL for XML text and leaves a malformed MPD alone', () => {
    const withQuery = rewriteDash('<MPD type="dynamic"><Period/></MPD>', {
      manifestUrl: MANIFEST_URL,
      tokenize: testTokenizer(),
      insertLocation: `${SELF}?a=1&b=<2>`,
    });
    expect(withQuery.text).toBe(
      `<MPD type="dynamic"><Location>${SELF}?a=1&amp;b=&lt;2&gt;&amp;tok=P</Location><Period/></MPD>`,
    );
    const broken = '<MPD type="dynamic"><Period></MPD>';
    const result = rewrite(broken);
    expect(result.malformed).toBeDefined();
    expect(result.text).toBe(broken);
  });
});

describe('a path grant of its own goes into relative references too', () => {
  const grant = (afterPath: string, resolvedPath: string): PathGrant => ({
    kind: 'path',
    afterPath,
    segment: '~T~9',
    resolvedPath,
    insertIntoRelative: true,
  });

  it('after the segments that lead from the base directory to the granted one', () => {
    expect(applyGrant('v0/index.m3u8', grant('/live/', '/live/v0/index.m3u8'))).toBe('~T~9/v0/index.m3u8');
    expect(
      applyGrant(
        'video/$RepresentationID$/$Number$.m4s',
        grant('/a/video/', '/a/video/$RepresentationID$/$Number$.m4s'),
      ),
    ).toBe('video/~T~9/$RepresentationID$/$Number$.m4s');
    expect(applyGrant('stream.mp4?x=1#t', grant('/a/', '/a/stream.mp4'))).toBe('~T~9/stream.mp4?x=1#t');
  });

  it('is left out where the reference does not pass through the granted directory, or is not plain', () => {
    // The granted directory is deeper than the reference goes, or above its base.
    expect(applyGrant('x.mp4', grant('/a/b/', '/a/x.mp4'))).toBe('x.mp4');
    expect(applyGrant('b/x.mp4', grant('/', '/a/b/x.mp4'))).toBe('b/x.mp4');
    // Dot segments and backslashes are not counted the way a player resolves them.
    expect(applyGrant('./x.mp4', grant('/a/', '/a/x.mp4'))).toBe('./x.mp4');
    expect(applyGrant('b\\x.mp4', grant('/a/', '/a/b/x.mp4'))).toBe('b\\x.mp4');
  });
});
