/**
 * Manifests shaped as an attacker (or a broken packager) would shape them, for the hostile-origin
 * tests, the fuzzers and the benchmarks. Sizes are in characters (all ASCII, so bytes too).
 */

const MPD_OPEN =
  '<?xml version="1.0" encoding="UTF-8"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT1H" minBufferTime="PT2S" profiles="urn:mpeg:dash:profile:full:2011">\n';

/**
 * A static MPD with one Representation whose SegmentList has as many SegmentURLs as fit in about
 * `bytes` characters (an honest shape, only long: a 24-hour VOD at 0.5 s segments).
 */
export function segmentListMpd(bytes: number): string {
  const head =
    MPD_OPEN +
    '  <Period id="1">\n    <AdaptationSet mimeType="video/mp4" codecs="avc1.64001f">\n' +
    '      <Representation id="v1" bandwidth="1500000" width="1280" height="720">\n' +
    '        <SegmentList timescale="1000" duration="4000">\n          <Initialization sourceURL="v1/init.mp4"/>\n';
  const tail = '        </SegmentList>\n      </Representation>\n    </AdaptationSet>\n  </Period>\n</MPD>\n';
  const parts = [head];
  let size = head.length + tail.length;
  for (let i = 1; size < bytes; i += 1) {
    const line = `          <SegmentURL media="v1/seg-${i}.m4s"/>\n`;
    parts.push(line);
    size += line.length;
  }
  parts.push(tail);
  return parts.join('');
}

/** `depth` elements nested in each other, cycling through `names`, each with a relative BaseURL. */
export function nestedBaseUrlMpd(depth: number, names: readonly string[] = ['Period']): string {
  const open: string[] = [];
  const close: string[] = [];
  for (let i = 0; i < depth; i += 1) {
    const name = names[i % names.length]!;
    open.push(`<${name}><BaseURL>a/</BaseURL>`);
    close.push(`</${name}>`);
  }
  return `${MPD_OPEN}${open.join('')}${close.reverse().join('')}</MPD>\n`;
}

/**
 * A chain of `depth` Periods, each with a BaseURL of `length` characters: within any depth limit, but
 * every level's URL repeats all those above it (the sum grows with the square of the depth).
 */
export function longBaseUrlChainMpd(depth: number, length: number): string {
  const segment = `${'b'.repeat(length - 1)}/`;
  return nestedBaseUrlMpd(depth).replaceAll('<BaseURL>a/</BaseURL>', `<BaseURL>${segment}</BaseURL>`);
}

/** One AdaptationSet with `count` sibling Representations (as many elements as the count). */
export function wideMpd(count: number): string {
  const representations = '<Representation id="r" bandwidth="1"/>'.repeat(count);
  return `${MPD_OPEN}<Period><AdaptationSet>${representations}</AdaptationSet></Period></MPD>\n`;
}

/** A start tag with `count` distinct attributes (duplicate detection was quadratic). */
export function manyAttributesMpd(count: number): string {
  const attributes: string[] = [];
  for (let i = 0; i < count; i += 1) attributes.push(`a${i}="1"`);
  return `${MPD_OPEN}<Period ${attributes.join(' ')}/></MPD>\n`;
}

/** A VOD media playlist of `segments` segments with an init section and a key. */
export function vodPlaylist(segments: number): string {
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    '#EXT-X-TARGETDURATION:4',
    '#EXT-X-PLAYLIST-TYPE:VOD',
    '#EXT-X-MAP:URI="init.mp4"',
    '#EXT-X-KEY:METHOD=AES-128,URI="key.bin",IV=0x00000000000000000000000000000001',
  ];
  for (let i = 0; i < segments; i += 1) lines.push('#EXTINF:4.000,', `seg-${i}.m4s`);
  lines.push('#EXT-X-ENDLIST', '');
  return lines.join('\n');
}

/** A playlist of about `bytes` characters (`vodPlaylist` grown to size). */
export function playlistOfSize(bytes: number): string {
  // 30 characters per segment at these lengths (`#EXTINF:4.000,` and `seg-123456.m4s`).
  return vodPlaylist(Math.floor(bytes / 30));
}

/**
 * rfc8216bis §4.4.2.3 variables as an amplifier: one VALUE of `valueLength` characters named `times`
 * times in one segment URI (about valueLength × times characters once substituted).
 */
export function variableBombPlaylist(valueLength: number, times: number): string {
  return (
    `#EXTM3U\n#EXT-X-VERSION:8\n#EXT-X-TARGETDURATION:4\n#EXT-X-DEFINE:NAME="v",VALUE="${'v'.repeat(valueLength)}"\n` +
    `#EXTINF:4,\n${'{$v}'.repeat(times)}.ts\n#EXT-X-ENDLIST\n`
  );
}
