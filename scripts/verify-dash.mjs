// Expands each Representation of a static MPD into its initialization + media byte sequence, the way a
// DASH client addresses them (ISO/IEC 23009-1 §5.3.9), and decodes the result with ffmpeg. ffmpeg's own
// dash demuxer (5.1) cannot read SegmentList or SegmentBase and stalls on some single-file MPDs, so it is
// not used. Prints one line per Representation; exits 1 on the first problem.
//   node scripts/verify-dash.mjs MPD EXPECTED_SECONDS
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { XMLParser } from 'fast-xml-parser';

const [mpdPath, expectedArg] = process.argv.slice(2);
if (!mpdPath || !expectedArg) {
  console.error('usage: node scripts/verify-dash.mjs MPD EXPECTED_SECONDS');
  process.exit(2);
}
const expected = Number(expectedArg);
const dir = dirname(mpdPath);

function fail(message) {
  console.error(`FAIL ${mpdPath}: ${message}`);
  process.exit(1);
}

const list = (x) => (x === undefined ? [] : Array.isArray(x) ? x : [x]);
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseAttributeValue: false,
});
const mpd = parser.parse(readFileSync(mpdPath, 'utf8')).MPD;

/** ISO 8601 duration as used by MPD@mediaPresentationDuration (PT#H#M#S). */
function seconds(iso) {
  const m = /^PT(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$/.exec(iso ?? '');
  if (!m) fail(`unsupported duration ${iso}`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

/** §5.3.9.4.4 template identifiers, including the %0<width>d format tag. */
function fillTemplate(template, values) {
  return template.replace(/\$(\w*)(?:%0(\d+)d)?\$/g, (_m, name, width) => {
    if (name === '') return '$';
    const v = values[name];
    if (v === undefined) fail(`template identifier $${name}$ has no value`);
    return width ? String(v).padStart(Number(width), '0') : String(v);
  });
}

function readRange(file, range) {
  const buf = readFileSync(join(dir, file));
  if (!range) return buf;
  const [a, b] = range.split('-').map(Number);
  if (!(a <= b) || b >= buf.length) fail(`${file}: range ${range} outside ${buf.length} bytes`);
  return buf.subarray(a, b + 1);
}

/** §5.3.9.2 SegmentBase: the sidx (ISO/IEC 14496-12 §8.16.3) lists the media subsegments. */
function sidxRanges(file, indexRange) {
  const sidx = readRange(file, indexRange);
  if (sidx.toString('latin1', 4, 8) !== 'sidx') fail(`${file}: indexRange ${indexRange} is not a sidx`);
  const version = sidx[8];
  let at = 12 + 8; // FullBox header, reference_ID, timescale
  let firstOffset;
  if (version === 0) {
    firstOffset = sidx.readUInt32BE(at + 4);
    at += 8;
  } else {
    firstOffset = Number(sidx.readBigUInt64BE(at + 8));
    at += 16;
  }
  const count = sidx.readUInt16BE(at + 2);
  at += 4;
  let offset = Number(indexRange.split('-')[1]) + 1 + firstOffset;
  const ranges = [];
  for (let i = 0; i < count; i++) {
    const word = sidx.readUInt32BE(at);
    if (word & 0x80000000) fail('hierarchical sidx is not handled');
    const size = word & 0x7fffffff;
    ranges.push(`${offset}-${offset + size - 1}`);
    offset += size;
    at += 12;
  }
  return ranges;
}

function pieces(rep, set) {
  const id = rep.id;
  const base = rep.BaseURL ?? set.BaseURL;
  const template = rep.SegmentTemplate ?? set.SegmentTemplate;
  const segList = rep.SegmentList ?? set.SegmentList;
  const segBase = rep.SegmentBase ?? set.SegmentBase;
  const out = [];
  if (template) {
    out.push({ file: fillTemplate(template.initialization, { RepresentationID: id }) });
    const timeline = template.SegmentTimeline;
    if (timeline) {
      let t = 0;
      for (const s of list(timeline.S)) {
        if (s.t !== undefined) t = Number(s.t);
        for (let k = 0; k <= Number(s.r ?? 0); k++) {
          out.push({ file: fillTemplate(template.media, { RepresentationID: id, Time: t }) });
          t += Number(s.d);
        }
      }
    } else {
      const count = Math.ceil(
        (seconds(mpd.mediaPresentationDuration) * Number(template.timescale)) / Number(template.duration),
      );
      const start = Number(template.startNumber ?? 1);
      for (let n = start; n < start + count; n++) {
        out.push({ file: fillTemplate(template.media, { RepresentationID: id, Number: n }) });
      }
    }
  } else if (segList) {
    const init = segList.Initialization;
    out.push(init.sourceURL ? { file: init.sourceURL } : { file: base, range: init.range });
    for (const u of list(segList.SegmentURL)) {
      out.push(u.media ? { file: u.media, range: u.mediaRange } : { file: base, range: u.mediaRange });
    }
  } else if (segBase) {
    out.push({ file: base, range: segBase.Initialization.range });
    for (const range of sidxRanges(base, segBase.indexRange)) out.push({ file: base, range });
  } else {
    fail(`Representation ${id}: no segment information`);
  }
  return out;
}

const work = mkdtempSync(join(tmpdir(), 'verify-dash-'));
try {
  const periods = list(mpd.Period);
  if (periods.length !== 1) fail('expected one Period');
  for (const set of list(periods[0].AdaptationSet)) {
    for (const rep of list(set.Representation)) {
      const parts = pieces(rep, set);
      const file = join(work, `rep-${rep.id}.mp4`);
      writeFileSync(file, Buffer.concat(parts.map((p) => readRange(p.file, p.range))));
      const probe = JSON.parse(
        execFileSync(
          'ffprobe',
          [
            '-v',
            'error',
            '-count_packets',
            '-show_entries',
            'stream=codec_type,nb_read_packets:format=duration',
            '-of',
            'json',
            file,
          ],
          { encoding: 'utf8' },
        ),
      );
      const run = spawnSync(
        'ffmpeg',
        ['-hide_banner', '-nostdin', '-v', 'error', '-i', file, '-f', 'null', '-'],
        {
          encoding: 'utf8',
        },
      );
      if (run.status !== 0 || run.stderr) fail(`Representation ${rep.id}: ${run.stderr}`);
      const duration = Number(probe.format.duration);
      if (Math.abs(duration - expected) > 0.1)
        fail(`Representation ${rep.id}: ${duration} s, want ${expected}`);
      const stream = probe.streams[0];
      console.error(
        `ok   ${mpdPath.split('/').slice(-2).join('/')} rep ${rep.id} (${stream.codec_type}): ` +
          `${parts.length - 1} segments, ${stream.nb_read_packets} packets, ${duration.toFixed(3)} s`,
      );
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
