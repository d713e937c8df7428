// Writes the manifests that ffmpeg cannot: the HLS multivariant playlists (with BANDWIDTH and CODECS
// measured from the files ffmpeg wrote), the WebVTT subtitle playlist, an I-frame playlist over the
// fMP4 segments, a SegmentBase MPD over the single-file DASH output, and live-src/manifest.json.
// Called by scripts/make-fixtures.sh with the build directory; node built-ins and ffprobe only.
import { createDecipheriv } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, statSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';

const root = process.argv[2];
if (!root) {
  console.error('usage: node scripts/fixture-manifests.mjs BUILD_DIR');
  process.exit(2);
}

function fail(message) {
  console.error(`fixture-manifests: ${message}`);
  process.exit(1);
}

// ---- ISO BMFF (ISO/IEC 14496-12) ----------------------------------------------------------------

/** Boxes directly inside buf[start, end): { type, start, end, body } where body is past the header. */
function boxes(buf, start = 0, end = buf.length) {
  const out = [];
  let at = start;
  while (at + 8 <= end) {
    let size = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    let header = 8;
    if (size === 1) {
      size = Number(buf.readBigUInt64BE(at + 8));
      header = 16;
    } else if (size === 0) {
      size = end - at;
    }
    if (size < header || at + size > end) fail(`bad box ${type} at ${at}`);
    out.push({ type, start: at, end: at + size, body: at + header });
    at += size;
  }
  return out;
}

function child(buf, parent, type, skip = 0) {
  return boxes(buf, parent.body + skip, parent.end).find((b) => b.type === type);
}

function path(buf, types) {
  let box = { start: 0, end: buf.length, body: 0 };
  for (const type of types) {
    // §8.5.2 SampleDescriptionBox is a FullBox with an entry count before its children.
    const skip = box.type === 'stsd' ? 8 : 0;
    box = child(buf, box, type, skip);
    if (!box) return undefined;
  }
  return box;
}

const hex2 = (n) => n.toString(16).padStart(2, '0');

/** RFC 6381 §3.3: avc1.PPCCLL from the AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3). */
function avcCodecFromInit(buf) {
  const avc1 = path(buf, ['moov', 'trak', 'mdia', 'minf', 'stbl', 'stsd', 'avc1']);
  if (!avc1) return undefined;
  // VisualSampleEntry: 78 bytes of fixed fields before the child boxes (14496-12 §12.1.3).
  const avcC = child(buf, avc1, 'avcC', 78);
  if (!avcC) fail('avc1 without avcC');
  const b = avcC.body;
  return `avc1.${hex2(buf[b + 1])}${hex2(buf[b + 2])}${hex2(buf[b + 3])}`;
}

/** RFC 6381 §3.3: mp4a.40.<AOT> from the esds DecoderConfigDescriptor (ISO/IEC 14496-1 §7.2.6.6). */
function aacCodecFromInit(buf) {
  const mp4a = path(buf, ['moov', 'trak', 'mdia', 'minf', 'stbl', 'stsd', 'mp4a']);
  if (!mp4a) return undefined;
  // AudioSampleEntry: 28 bytes of fixed fields before the child boxes.
  const esds = child(buf, mp4a, 'esds', 28);
  if (!esds) fail('mp4a without esds');
  let at = esds.body + 4;
  const readDescriptor = () => {
    const tag = buf[at++];
    let len = 0;
    for (let i = 0; i < 4; i++) {
      const byte = buf[at++];
      len = (len << 7) | (byte & 0x7f);
      if (!(byte & 0x80)) break;
    }
    return { tag, len, body: at };
  };
  const es = readDescriptor();
  if (es.tag !== 3) fail('esds: no ES_Descriptor');
  const flags = buf[at + 2];
  at += 3;
  if (flags & 0x80) at += 2;
  if (flags & 0x40) at += 1 + buf[at];
  if (flags & 0x20) at += 2;
  const dc = readDescriptor();
  if (dc.tag !== 4) fail('esds: no DecoderConfigDescriptor');
  const oti = buf[at];
  at += 13;
  const dsi = readDescriptor();
  if (dsi.tag !== 5) fail('esds: no DecoderSpecificInfo');
  const aot = buf[at] >> 3;
  return `mp4a.${hex2(oti)}.${aot}`;
}

/**
 * I-frame byte range of one fMP4 segment: from the start of the file (styp + moof) to the end of the
 * first sample, which must be a sync sample (14496-12 §8.8.8 trun, §8.8.3.1 sample flags).
 */
function firstSampleRange(buf) {
  const top = boxes(buf);
  const moofs = top.filter((b) => b.type === 'moof');
  if (moofs.length !== 1) fail(`expected one moof per segment, found ${moofs.length}`);
  const moof = moofs[0];
  const traf = child(buf, moof, 'traf');
  const tfhd = child(buf, traf, 'tfhd');
  const trun = child(buf, traf, 'trun');
  if (!tfhd || !trun) fail('traf without tfhd/trun');
  const tfFlags = buf.readUInt32BE(tfhd.body) & 0xffffff;
  let at = tfhd.body + 8;
  if (tfFlags & 0x1) fail('base-data-offset-present is not handled');
  if (tfFlags & 0x2) at += 4;
  if (tfFlags & 0x8) at += 4;
  const defaultSize = tfFlags & 0x10 ? buf.readUInt32BE(at) : undefined;
  if (tfFlags & 0x10) at += 4;
  const defaultFlags = tfFlags & 0x20 ? buf.readUInt32BE(at) : undefined;

  const trFlags = buf.readUInt32BE(trun.body) & 0xffffff;
  at = trun.body + 8;
  if (!(trFlags & 0x1)) fail('trun without data-offset');
  const dataOffset = buf.readInt32BE(at);
  at += 4;
  let firstFlags = defaultFlags;
  if (trFlags & 0x4) {
    firstFlags = buf.readUInt32BE(at);
    at += 4;
  }
  if (trFlags & 0x100) at += 4;
  const size = trFlags & 0x200 ? buf.readUInt32BE(at) : defaultSize;
  if (trFlags & 0x200) at += 4;
  if (!(trFlags & 0x4) && trFlags & 0x400) firstFlags = buf.readUInt32BE(at);
  if (size === undefined) fail('no sample size');
  if (firstFlags === undefined || firstFlags & 0x10000) fail('first sample is not a sync sample');
  // With no base-data-offset, data offsets count from the first byte of the moof (§8.8.7.1).
  return { offset: 0, length: moof.start + dataOffset + size };
}

// ---- MPEG-TS (ISO/IEC 13818-1) ------------------------------------------------------------------

/** Payload of the first PES packet of each elementary stream, keyed by stream_type. */
function firstPesByStreamType(ts) {
  if (ts.length % 188 !== 0 || ts[0] !== 0x47) fail('not a 188-byte transport stream');
  let pmtPid;
  const streamTypeByPid = new Map();
  const pes = new Map();
  const done = new Set();
  for (let p = 0; p < ts.length; p += 188) {
    const pusi = (ts[p + 1] & 0x40) !== 0;
    const pid = ((ts[p + 1] & 0x1f) << 8) | ts[p + 2];
    const afc = (ts[p + 3] >> 4) & 3;
    let at = p + 4;
    if (afc & 2) at += 1 + ts[at];
    if (!(afc & 1)) continue;
    const payload = ts.subarray(at, p + 188);
    if (pid === 0 && pusi && pmtPid === undefined) {
      const s = 1 + payload[0];
      pmtPid = ((payload[s + 10] & 0x1f) << 8) | payload[s + 11];
    } else if (pid === pmtPid && pusi && streamTypeByPid.size === 0) {
      const s = 1 + payload[0];
      const sectionEnd = s + 3 + (((payload[s + 1] & 0x0f) << 8) | payload[s + 2]) - 4;
      let e = s + 12 + (((payload[s + 10] & 0x0f) << 8) | payload[s + 11]);
      while (e < sectionEnd) {
        const type = payload[e];
        const esPid = ((payload[e + 1] & 0x1f) << 8) | payload[e + 2];
        streamTypeByPid.set(esPid, type);
        e += 5 + (((payload[e + 3] & 0x0f) << 8) | payload[e + 4]);
      }
    } else if (streamTypeByPid.has(pid) && !done.has(pid)) {
      const type = streamTypeByPid.get(pid);
      if (pusi && pes.has(type)) done.add(pid);
      else if (pusi || pes.has(type))
        pes.set(type, Buffer.concat([pes.get(type) ?? Buffer.alloc(0), payload]));
    }
  }
  for (const [type, buf] of pes) {
    // PES header: 6 bytes, 3 bytes of flags, then PES_header_data_length bytes (13818-1 §2.4.3.6).
    pes.set(type, buf.subarray(9 + buf[8]));
  }
  return pes;
}

function codecsFromTs(ts) {
  const pes = firstPesByStreamType(ts);
  const codecs = [];
  const video = pes.get(0x1b);
  if (video) {
    // H.264 Annex B: the SPS NAL (type 7) starts with profile_idc, constraint flags, level_idc.
    const i = video.findIndex(
      (_, k) => video[k] === 0 && video[k + 1] === 0 && video[k + 2] === 1 && (video[k + 3] & 0x1f) === 7,
    );
    if (i < 0) fail('no SPS in the first video PES');
    codecs.push(`avc1.${hex2(video[i + 4])}${hex2(video[i + 5])}${hex2(video[i + 6])}`);
  }
  const audio = pes.get(0x0f);
  if (audio) {
    // ADTS header (ISO/IEC 13818-7 §6.2): profile_ObjectType is AOT - 1.
    if (audio[0] !== 0xff || (audio[1] & 0xf0) !== 0xf0) fail('audio PES does not start with ADTS');
    codecs.push(`mp4a.40.${(audio[2] >> 6) + 1}`);
  }
  return codecs;
}

// ---- playlists ----------------------------------------------------------------------------------

function readMediaPlaylist(file) {
  const lines = readFileSync(file, 'utf8').split('\n');
  const segments = [];
  let duration;
  for (const line of lines) {
    if (line.startsWith('#EXTINF:')) duration = Number.parseFloat(line.slice(8));
    else if (line && !line.startsWith('#')) {
      if (duration === undefined) fail(`${file}: URI without EXTINF`);
      segments.push({ uri: line, duration, bytes: statSync(join(dirname(file), line)).size });
      duration = undefined;
    }
  }
  if (segments.length === 0) fail(`${file}: no segments`);
  return segments;
}

/** RFC 8216 §4.3.4.2: BANDWIDTH is the peak segment bit rate, AVERAGE-BANDWIDTH the average. */
function rates(segments) {
  const peak = Math.max(...segments.map((s) => (s.bytes * 8) / s.duration));
  const total = segments.reduce((a, s) => a + s.bytes, 0);
  const seconds = segments.reduce((a, s) => a + s.duration, 0);
  return { peak: Math.ceil(peak), average: Math.ceil((total * 8) / seconds), seconds };
}

function probe(file, options = []) {
  const json = execFileSync('ffprobe', ['-v', 'error', ...options, '-show_streams', '-of', 'json', file], {
    encoding: 'utf8',
  });
  return JSON.parse(json).streams;
}

function videoInfo(file, options) {
  const v = probe(file, options).find((s) => s.codec_type === 'video');
  if (!v) fail(`${file}: no video stream`);
  const [num, den] = v.avg_frame_rate.split('/').map(Number);
  return { resolution: `${v.width}x${v.height}`, frameRate: (num / den).toFixed(3) };
}

function write(file, text) {
  writeFileSync(file, text);
  console.error(`wrote ${file}`);
}

// ---- vod-fmp4 -----------------------------------------------------------------------------------

function vodFmp4() {
  const dir = join(root, 'vod-fmp4');
  const audioInit = readFileSync(join(dir, 'audio/init.mp4'));
  const audioCodec = aacCodecFromInit(audioInit);
  if (!audioCodec) fail('audio/init.mp4 has no mp4a');
  const audioRates = rates(readMediaPlaylist(join(dir, 'audio/index.m3u8')));
  const audioChannels = probe(join(dir, 'audio/init.mp4'))[0].channels;

  const vtt = join(dir, 'subs/en.vtt');
  const subsSeconds = rates(readMediaPlaylist(join(dir, 'v0/index.m3u8'))).seconds;
  write(
    join(dir, 'subs/en.m3u8'),
    [
      '#EXTM3U',
      '#EXT-X-VERSION:3',
      `#EXT-X-TARGETDURATION:${Math.round(subsSeconds)}`,
      '#EXT-X-MEDIA-SEQUENCE:0',
      '#EXT-X-PLAYLIST-TYPE:VOD',
      `#EXTINF:${subsSeconds.toFixed(3)},`,
      'en.vtt',
      '#EXT-X-ENDLIST',
      '',
    ].join('\n'),
  );
  statSync(vtt);

  const variants = [];
  for (const name of readdirSync(dir)
    .filter((n) => /^v\d+$/.test(n))
    .sort()) {
    const init = readFileSync(join(dir, name, 'init.mp4'));
    const codec = avcCodecFromInit(init);
    if (!codec) fail(`${name}/init.mp4 has no avc1`);
    const segments = readMediaPlaylist(join(dir, name, 'index.m3u8'));
    variants.push({
      name,
      codec,
      segments,
      rates: rates(segments),
      ...videoInfo(join(dir, name, 'index.m3u8')),
    });
  }

  // I-frame playlist for the lowest rendition (RFC 8216 §4.3.3.6: EXT-X-I-FRAMES-ONLY, each
  // segment one I-frame as a byte range, EXTINF the time to the next I-frame).
  const low = variants[0];
  const iframes = low.segments.map((s) => ({
    ...s,
    range: firstSampleRange(readFileSync(join(dir, low.name, s.uri))),
  }));
  const iframeLines = [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    `#EXT-X-TARGETDURATION:${Math.ceil(Math.max(...iframes.map((s) => s.duration)))}`,
    '#EXT-X-MEDIA-SEQUENCE:0',
    '#EXT-X-PLAYLIST-TYPE:VOD',
    '#EXT-X-I-FRAMES-ONLY',
    '#EXT-X-MAP:URI="init.mp4"',
  ];
  for (const s of iframes) {
    iframeLines.push(
      `#EXTINF:${s.duration.toFixed(6)},`,
      `#EXT-X-BYTERANGE:${s.range.length}@${s.range.offset}`,
      s.uri,
    );
  }
  iframeLines.push('#EXT-X-ENDLIST', '');
  write(join(dir, low.name, 'iframes.m3u8'), iframeLines.join('\n'));
  const iframePeak = Math.ceil(Math.max(...iframes.map((s) => (s.range.length * 8) / s.duration)));
  const iframeAverage = Math.ceil(
    (iframes.reduce((a, s) => a + s.range.length, 0) * 8) / iframes.reduce((a, s) => a + s.duration, 0),
  );

  const lines = [
    '#EXTM3U',
    // EXT-X-I-FRAME-STREAM-INF is the newest feature used here (RFC 8216 §7: version 4).
    '#EXT-X-VERSION:4',
    '#EXT-X-INDEPENDENT-SEGMENTS',
    '',
    `#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="${audioChannels}",URI="audio/index.m3u8"`,
    '#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,FORCED=NO,URI="subs/en.m3u8"',
    '',
  ];
  for (const v of variants) {
    // §4.3.4.2: with an audio group, BANDWIDTH counts the video peak plus the audio rendition's peak.
    lines.push(
      `#EXT-X-STREAM-INF:BANDWIDTH=${v.rates.peak + audioRates.peak},AVERAGE-BANDWIDTH=${v.rates.average + audioRates.average},` +
        `CODECS="${v.codec},${audioCodec}",RESOLUTION=${v.resolution},FRAME-RATE=${v.frameRate},AUDIO="aud",SUBTITLES="subs"`,
      `${v.name}/index.m3u8`,
    );
  }
  lines.push(
    '',
    `#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=${iframePeak},AVERAGE-BANDWIDTH=${iframeAverage},CODECS="${low.codec}",` +
      `RESOLUTION=${low.resolution},URI="${low.name}/iframes.m3u8"`,
    '',
  );
  write(join(dir, 'master.m3u8'), lines.join('\n'));
}

// ---- vod-ts-aes ---------------------------------------------------------------------------------

function vodTsAes() {
  const dir = join(root, 'vod-ts-aes');
  const playlist = readFileSync(join(dir, 'index.m3u8'), 'utf8');
  const key = /#EXT-X-KEY:METHOD=AES-128,URI="([^"]+)",IV=0x([0-9a-fA-F]{32})/.exec(playlist);
  if (!key) fail('vod-ts-aes/index.m3u8: no AES-128 key with an IV');
  const segments = readMediaPlaylist(join(dir, 'index.m3u8'));
  const decipher = createDecipheriv(
    'aes-128-cbc',
    readFileSync(join(dir, key[1])),
    Buffer.from(key[2], 'hex'),
  );
  const clear = Buffer.concat([decipher.update(readFileSync(join(dir, segments[0].uri))), decipher.final()]);
  const codecs = codecsFromTs(clear);
  if (codecs.length !== 2) fail(`vod-ts-aes: expected video and audio, found ${codecs.join(',')}`);
  const r = rates(segments);
  // ffmpeg's hls demuxer opens only files with media extensions unless told otherwise; key.bin is not one.
  const info = videoInfo(join(dir, 'index.m3u8'), ['-allowed_extensions', 'ALL']);
  write(
    join(dir, 'master.m3u8'),
    [
      '#EXTM3U',
      '#EXT-X-VERSION:3',
      `#EXT-X-STREAM-INF:BANDWIDTH=${r.peak},AVERAGE-BANDWIDTH=${r.average},CODECS="${codecs.join(',')}",` +
        `RESOLUTION=${info.resolution},FRAME-RATE=${info.frameRate}`,
      'index.m3u8',
      '',
    ].join('\n'),
  );
}

// ---- dash/single: SegmentBase over the same files ----------------------------------------------

function dashSegmentBase() {
  const dir = join(root, 'dash/single');
  const mpd = readFileSync(join(dir, 'manifest.mpd'), 'utf8');
  const re = /(<BaseURL>([^<]+)<\/BaseURL>\s*)<SegmentList[^>]*>[\s\S]*?<\/SegmentList>/g;
  let count = 0;
  const out = mpd
    .replace(re, (_m, base, file) => {
      count++;
      const top = boxes(readFileSync(join(dir, file)));
      const moov = top.find((b) => b.type === 'moov');
      const sidx = top.find((b) => b.type === 'sidx');
      if (!moov || !sidx) fail(`${file}: no moov or sidx`);
      // ISO/IEC 23009-1 §5.3.9.2: indexRange names the sidx; Initialization the ftyp + moov.
      return (
        `${base}<SegmentBase indexRange="${sidx.start}-${sidx.end - 1}">` +
        `<Initialization range="0-${moov.end - 1}" /></SegmentBase>`
      );
    })
    .replace('urn:mpeg:dash:profile:isoff-live:2011', 'urn:mpeg:dash:profile:isoff-on-demand:2011');
  if (count === 0) fail('dash/single/manifest.mpd: no SegmentList to replace');
  write(join(dir, 'segmentbase.mpd'), out);
}

// ---- dash/per-representation: one AdaptationSet-level template ----------------------------------

/**
 * ISO/IEC 23009-1 §5.3.9.2: a SegmentTemplate at AdaptationSet level applies to every Representation in
 * it. ffmpeg repeats one per Representation; when they are identical, one is moved up, as Shaka Packager
 * writes it, so the template's `$RepresentationID$/` names a directory per Representation.
 */
function dashPerRepresentation() {
  const file = join(root, 'dash/per-representation/manifest.mpd');
  const mpd = readFileSync(file, 'utf8');
  const template = /\n(\t+)<SegmentTemplate ([^>]*)>\s*<\/SegmentTemplate>/g;
  let sets = 0;
  const out = mpd.replace(
    /(<AdaptationSet [^>]*>)([\s\S]*?)(\n\t+<\/AdaptationSet>)/g,
    (_m, open, body, close) => {
      const found = [...body.matchAll(template)];
      if (found.length === 0 || new Set(found.map((t) => t[2])).size !== 1)
        fail('per-representation: templates differ');
      if (!found[0][2].includes('$RepresentationID$/'))
        fail('per-representation: no $RepresentationID$/ directory');
      sets++;
      const indent = found[0][1].slice(1);
      return `${open}\n${indent}<SegmentTemplate ${found[0][2]}/>${body.replace(template, '')}${close}`;
    },
  );
  if (sets !== 2) fail(`per-representation: ${sets} AdaptationSets, expected 2`);
  write(file, out);
}

// ---- live-src -----------------------------------------------------------------------------------

function liveSource() {
  const dir = join(root, 'live-src');
  const segments = readMediaPlaylist(join(dir, 'source.m3u8'));
  const codecs = codecsFromTs(readFileSync(join(dir, segments[0].uri)));
  for (const s of segments.slice(1)) {
    const c = codecsFromTs(readFileSync(join(dir, s.uri)));
    if (c.join() !== codecs.join()) fail(`live-src/${s.uri}: codecs ${c} differ from ${codecs}`);
  }
  const r = rates(segments);
  const info = videoInfo(join(dir, 'source.m3u8'));
  const manifest = {
    description:
      'Source for the live simulator (test/helpers/live-origin.ts): MPEG-TS segments, each starting ' +
      'with an IDR frame, played in order and looped. Generated by scripts/make-fixtures.sh.',
    container: 'mpegts',
    segmentDuration: Math.max(...segments.map((s) => s.duration)),
    totalDuration: Number(r.seconds.toFixed(6)),
    bandwidth: r.peak,
    averageBandwidth: r.average,
    codecs: codecs.join(','),
    resolution: info.resolution,
    frameRate: Number(info.frameRate),
    segments,
  };
  write(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}

// ---- live-dash-src -------------------------------------------------------------------------------

/** Default sample duration for a traf: tfhd's if present, else trex's in the init (14496-12 §8.8.7, §8.8.3). */
function trafTiming(buf, traf, trexDuration) {
  const tfhd = child(buf, traf, 'tfhd');
  const tfdt = child(buf, traf, 'tfdt');
  const trun = child(buf, traf, 'trun');
  if (!tfhd || !tfdt || !trun) fail('traf without tfhd, tfdt or trun');
  const tfFlags = buf.readUInt32BE(tfhd.body) & 0xffffff;
  let at = tfhd.body + 8;
  if (tfFlags & 0x1) at += 8;
  if (tfFlags & 0x2) at += 4;
  const defaultDuration = tfFlags & 0x8 ? buf.readUInt32BE(at) : trexDuration;
  // §8.8.12: version 1 carries a 64-bit baseMediaDecodeTime.
  const base =
    buf[tfdt.body] === 1 ? Number(buf.readBigUInt64BE(tfdt.body + 4)) : buf.readUInt32BE(tfdt.body + 4);
  const trFlags = buf.readUInt32BE(trun.body) & 0xffffff;
  const count = buf.readUInt32BE(trun.body + 4);
  at = trun.body + 8 + (trFlags & 0x1 ? 4 : 0) + (trFlags & 0x4 ? 4 : 0);
  const perSample = [0x100, 0x200, 0x400, 0x800].filter((f) => trFlags & f).length * 4;
  let duration = 0;
  for (let i = 0; i < count; i++, at += perSample) {
    duration += trFlags & 0x100 ? buf.readUInt32BE(at) : defaultDuration;
  }
  if (Number.isNaN(duration)) fail('no sample duration');
  return { base, duration, count, defaultDuration };
}

/**
 * The fMP4 source of the simulator's live DASH stream: one video and one audio track, each an init
 * segment and numbered 2 s media segments that together last exactly one loop. The simulator serves the
 * loop over and over and rewrites each tfdt to loop * loopDuration * timescale + the tfdt written here,
 * so the checks below are what makes that seamless: the first segment starts at 0, each one starts
 * where the one before ends, the last one ends at exactly loopDuration, and every video segment is
 * exactly one segment duration (its number then gives its time, ISO/IEC 23009-1 §5.3.9.5.3).
 */
function liveDashSource() {
  const dir = join(root, 'live-dash-src');
  const segmentDuration = 2;
  const loopDuration = 32;
  const track = (name) => {
    const initName = `${name}-init.mp4`;
    const init = readFileSync(join(dir, initName));
    const mdhd = path(init, ['moov', 'trak', 'mdia', 'mdhd']);
    const trex = path(init, ['moov', 'mvex', 'trex']);
    if (!mdhd || !trex) fail(`${initName}: no mdhd or trex`);
    const timescale = init.readUInt32BE(mdhd.body + (init[mdhd.body] === 1 ? 20 : 12));
    const trexDuration = init.readUInt32BE(trex.body + 12);
    const files = readdirSync(dir)
      .filter((f) => new RegExp(`^${name}-\\d{3}\\.m4s$`).test(f))
      .sort();
    if (files.length !== loopDuration / segmentDuration) fail(`${name}: ${files.length} segments`);
    let expected = 0;
    let sampleDuration;
    const segments = files.map((uri) => {
      const buf = readFileSync(join(dir, uri));
      const moofs = boxes(buf).filter((b) => b.type === 'moof');
      if (moofs.length !== 1) fail(`${uri}: ${moofs.length} moof boxes`);
      const trafs = boxes(buf, moofs[0].body, moofs[0].end).filter((b) => b.type === 'traf');
      if (trafs.length !== 1) fail(`${uri}: ${trafs.length} traf boxes`);
      const t = trafTiming(buf, trafs[0], trexDuration);
      if (t.base !== expected) fail(`${uri}: tfdt ${t.base}, expected ${expected}`);
      if (name === 'video' && t.duration !== segmentDuration * timescale) fail(`${uri}: lasts ${t.duration}`);
      expected += t.duration;
      sampleDuration = t.defaultDuration;
      return { uri, bytes: buf.length, baseMediaDecodeTime: t.base, duration: t.duration };
    });
    if (expected !== loopDuration * timescale) fail(`${name}: loop lasts ${expected}/${timescale}`);
    const r = rates(segments.map((s) => ({ bytes: s.bytes, duration: s.duration / timescale })));
    const stream = probe(join(dir, initName))[0];
    const common = { init: initName, timescale, bandwidth: r.peak, averageBandwidth: r.average };
    if (name === 'video') {
      return {
        ...common,
        codecs: avcCodecFromInit(init),
        width: stream.width,
        height: stream.height,
        frameRate: timescale / sampleDuration,
        segments,
      };
    }
    return {
      ...common,
      codecs: aacCodecFromInit(init),
      sampleRate: Number(stream.sample_rate),
      channels: stream.channels,
      segments,
    };
  };
  const manifest = {
    description:
      'Source for the live DASH stream of the simulator (src/demo/live-origin.ts): fMP4 init and media ' +
      'segments forming one seamless loop, served over and over with each tfdt rewritten. Generated by ' +
      'scripts/make-fixtures.sh.',
    container: 'fmp4',
    segmentDuration,
    loopDuration,
    video: track('video'),
    audio: track('audio'),
  };
  write(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}

// With a second argument `live-dash-src` (scripts/make-fixtures.sh live-dash-src) only that directory
// is built, so only its manifest is written.
if (process.argv[3] === 'live-dash-src') {
  liveDashSource();
} else if (process.argv[3] === 'dash-per-representation') {
  dashPerRepresentation();
} else {
  vodFmp4();
  vodTsAes();
  dashSegmentBase();
  dashPerRepresentation();
  liveSource();
  liveDashSource();
}
