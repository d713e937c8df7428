#!/usr/bin/env bash
# Regenerates fixtures/media/ from ffmpeg's synthetic sources. Run from anywhere:
#   scripts/make-fixtures.sh
# Needs ffmpeg (with libx264 and lavfi) and node. The output is committed; rerun only to change it.
# Everything except fixtures/media/README.md is replaced.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/fixtures/media"
WORK="$(mktemp -d)"
# KEEP_WORK=1 keeps the intermediate files for debugging.
trap '[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT

FPS=25
SEG=2                      # segment length in seconds
GOP=$((FPS * SEG))         # one IDR per segment, so every segment starts with a keyframe and cuts cleanly
VOD_DUR=30
LIVE_DUR=60
# A fixed AES-128 key so the encrypted fixture is reproducible (RFC 8216 §5.2: 16 octets, binary).
KEY_HEX=8a3c5e0f1d2b4a6978c1e3f5a7b9d0e2
IV_HEX=3f1e5d7c9b2a40618e7f6a5b4c3d2e1f

# The drawn text depends on the font; without one the videos still carry the moving square.
FONT="$(fc-match -f '%{file}' 'DejaVu Sans Mono:bold' 2>/dev/null || true)"
[ -n "$FONT" ] && [ -f "$FONT" ] || FONT=""

FF=(ffmpeg -hide_banner -nostdin -v error -y)
# bitexact keeps library version strings and wall-clock times out of the files; one x264 thread
# makes the bitstream independent of the machine's core count.
X264=(-c:v libx264 -preset veryfast -profile:v baseline -level:v 3.0 -pix_fmt yuv420p -crf 28
  -g "$GOP" -keyint_min "$GOP" -sc_threshold 0 -threads 1 -flags:v +bitexact)
AAC=(-c:a aac -b:a 64k -ac 1 -ar 48000 -flags:a +bitexact)
MUX=(-map_metadata -1 -fflags +bitexact)
# The ADTS audio is one AAC frame longer than the video (encoder priming); cutting every package at
# the video's length keeps the last audio segment from being a 21 ms stub.
VOD_CUT=(-t "$VOD_DUR")
LIVE_CUT=(-t "$LIVE_DUR")

# lavfi graph: SMPTE bars, a square crossing the frame every 4 s (visible motion without a font),
# the running presentation time and a label burnt in.
video_graph() {
  local w=$1 h=$2 label=$3 dur=$4
  local sq=$((h / 10))
  local g="smptebars=size=${w}x${h}:rate=${FPS}:duration=${dur}[bg];"
  g+="color=c=yellow:size=${sq}x${sq}:rate=${FPS}[sq];"
  g+="[bg][sq]overlay=x='mod(t*W/4,W)':y=H/3:shortest=1"
  if [ -n "$FONT" ]; then
    g+=",drawtext=fontfile=${FONT}:text='%{pts\\:hms}':fontsize=$((h / 6)):fontcolor=white"
    g+=":box=1:boxcolor=black@0.6:x=(w-tw)/2:y=h-th-$((h / 12))"
    g+=",drawtext=fontfile=${FONT}:text='${label}':fontsize=$((h / 12)):fontcolor=white"
    g+=":box=1:boxcolor=black@0.6:x=$((h / 30)):y=$((h / 30))"
  fi
  printf '%s[out0]' "$g"
}

encode_video() { # out.mp4 w h kbps label duration
  "${FF[@]}" -f lavfi -i "$(video_graph "$2" "$3" "$5" "$6")" -an "${X264[@]}" \
    -maxrate "${4}k" -bufsize "$(($4 * 2))k" "${MUX[@]}" "$1"
}

encode_audio() { # out.aac duration
  # A 440 Hz tone with a beep every second, so a player's audio is audibly in step with the clock.
  # ADTS rather than MP4: an MP4 would carry the encoder priming as an edit list, the copied streams
  # would start at -1024, and ffmpeg's dash muxer then names the first $Time$ segment "-1024" while
  # its SegmentTimeline says t="0" (and writes an empty SegmentList in single-file mode).
  "${FF[@]}" -f lavfi -i "sine=frequency=440:beep_factor=4:sample_rate=48000:duration=$2" -vn \
    "${AAC[@]}" "${MUX[@]}" "$1"
}

# --- Live DASH source: a seamless 32 s loop of fMP4 segments for the simulator's live MPD ------------
# 32 s because the loop must hold whole 2 s segments and whole AAC frames of 1024 samples at 48 kHz:
# 8 s (375 frames) is the shortest length that does both; 32 s is 16 segments and 1500 frames. The
# simulator rewrites each served segment's tfdt to loop * 32 s + the tfdt written here. The audio is cut
# from the middle of a 64 s encode, frames 1500-2999, so the frame before the first one served is,
# after a loop, the one the encoder wrote before it: the tone repeats every 32 s, so no priming gap or
# click at the loop point. Every video segment starts with an IDR, so the video loops cleanly anyway.
LIVE_DASH_DUR=32
live_dash_src() { # out-dir mezzanine-dir
  local d=$1 m=$2
  mkdir -p "$d" "$m"
  encode_video "$m/live-dash360.mp4" 640 360 400 "LIVE DASH 360p" "$LIVE_DASH_DUR"
  encode_audio "$m/live-dash-audio-2x.aac" $((2 * LIVE_DASH_DUR))
  # Output -ss with stream copy drops whole packets before 32 s, exactly frame 1500, and restarts at 0.
  "${FF[@]}" -i "$m/live-dash-audio-2x.aac" -ss "$LIVE_DASH_DUR" -t "$LIVE_DASH_DUR" -c copy "${MUX[@]}" \
    "$m/live-dash-audio.aac"
  # One ffmpeg run per track, so the files get flat names (video-init.mp4, video-001.m4s, …) rather than
  # the dash muxer's stream numbers. Its MPDs are dropped: the simulator writes its own dynamic MPD.
  local name input
  for name in video audio; do
    input="$m/live-dash360.mp4"
    [ "$name" = audio ] && input="$m/live-dash-audio.aac"
    (cd "$d" && "${FF[@]}" -i "$input" -c copy "${MUX[@]}" -t "$LIVE_DASH_DUR" -f dash -seg_duration "$SEG" \
      -use_template 1 -use_timeline 0 -init_seg_name "$name-init.mp4" -media_seg_name "$name-\$Number%03d\$.m4s" \
      "$name.mpd" && rm "$name.mpd")
  done
  # Decode check: each track's init followed by all its segments must decode without an error.
  for name in video audio; do
    cat "$d/$name-init.mp4" "$d/$name"-[0-9][0-9][0-9].m4s >"$m/$name-check.mp4"
    "${FF[@]}" -xerror -i "$m/$name-check.mp4" -f null - || {
      echo "live-dash-src: $name does not decode" >&2
      exit 1
    }
  done
}

# --- DASH, one directory per Representation: Shaka Packager's default layout -----------------------
# One AdaptationSet-level SegmentTemplate `$RepresentationID$/seg_$Number%03d$.m4s` shared by the
# Representations, each in its own directory. ffmpeg writes the template into every Representation and
# creates no directories; fixture-manifests.mjs hoists the (identical) templates to the AdaptationSet.
# 12 s, not 30: only the layout is new, the media are the renditions of dash/number/.
PER_REP_DUR=12
dash_per_representation() { # out-dir mezzanine-dir
  local d=$1/dash/per-representation m=$2
  mkdir -p "$d/0" "$d/1" "$d/2"
  (cd "$d" && "${FF[@]}" -i "$m/v234.mp4" -i "$m/v360.mp4" -i "$m/audio.aac" -map 0:v -map 1:v -map 2:a \
    -c copy "${MUX[@]}" -t "$PER_REP_DUR" -f dash -seg_duration "$SEG" \
    -adaptation_sets 'id=0,streams=v id=1,streams=a' -use_template 1 -use_timeline 0 \
    -init_seg_name '$RepresentationID$/init.m4s' -media_seg_name '$RepresentationID$/seg_$Number%03d$.m4s' \
    manifest.mpd)
}

# scripts/make-fixtures.sh dash-per-representation builds, checks and replaces that directory only.
if [ "${1:-}" = dash-per-representation ]; then
  mkdir -p "$WORK/mezz"
  encode_video "$WORK/mezz/v234.mp4" 416 234 200 "234p" "$VOD_DUR"
  encode_video "$WORK/mezz/v360.mp4" 640 360 400 "360p" "$VOD_DUR"
  encode_audio "$WORK/mezz/audio.aac" "$VOD_DUR"
  dash_per_representation "$WORK/out" "$WORK/mezz"
  node "$ROOT/scripts/fixture-manifests.mjs" "$WORK/out" dash-per-representation
  node "$ROOT/scripts/verify-dash.mjs" "$WORK/out/dash/per-representation/manifest.mpd" "$PER_REP_DUR"
  rm -rf "${OUT:?}/dash/per-representation"
  cp -R "$WORK/out/dash/per-representation" "$OUT/dash/"
  du -sh "$OUT/dash/per-representation" >&2
  exit 0
fi

# scripts/make-fixtures.sh live-dash-src builds, checks and replaces fixtures/media/live-dash-src/ only.
if [ "${1:-}" = live-dash-src ]; then
  live_dash_src "$WORK/out/live-dash-src" "$WORK/mezz"
  node "$ROOT/scripts/fixture-manifests.mjs" "$WORK/out" live-dash-src
  rm -rf "${OUT:?}/live-dash-src"
  cp -R "$WORK/out/live-dash-src" "$OUT/"
  du -sh "$OUT/live-dash-src" >&2
  exit 0
fi

echo "encoding mezzanine renditions in $WORK" >&2
M="$WORK/mezz"
mkdir -p "$M"
encode_video "$M/v234.mp4" 416 234 200 "234p" "$VOD_DUR"
encode_video "$M/v360.mp4" 640 360 400 "360p" "$VOD_DUR"
encode_video "$M/v480.mp4" 854 480 700 "480p" "$VOD_DUR"
encode_audio "$M/audio.aac" "$VOD_DUR"
encode_video "$M/live360.mp4" 640 360 400 "LIVE 360p" "$LIVE_DUR"
encode_audio "$M/live-audio.aac" "$LIVE_DUR"

B="$WORK/out"
mkdir -p "$B"

# --- HLS VOD, fMP4: three video-only renditions, one audio rendition, WebVTT, I-frames ---------
hls_fmp4() { # dir input
  mkdir -p "$1"
  (cd "$1" && "${FF[@]}" -i "$2" -c copy -bsf:a aac_adtstoasc "${MUX[@]}" "${VOD_CUT[@]}" -f hls -hls_time "$SEG" -hls_playlist_type vod \
    -hls_flags independent_segments -hls_segment_type fmp4 -hls_fmp4_init_filename init.mp4 \
    -hls_segment_filename 'seg_%03d.m4s' index.m3u8)
}
V="$B/vod-fmp4"
hls_fmp4 "$V/v0" "$M/v234.mp4"
hls_fmp4 "$V/v1" "$M/v360.mp4"
hls_fmp4 "$V/v2" "$M/v480.mp4"
hls_fmp4 "$V/audio" "$M/audio.aac"
mkdir -p "$V/subs"
# One WebVTT file for the whole 30 s, served as a single-segment subtitle playlist (subs/en.m3u8,
# written by fixture-manifests.mjs). X-TIMESTAMP-MAP ties cue time 0 to media time 0 (RFC 8216 §3.5):
# the fMP4 renditions start at decode time 0.
cat >"$V/subs/en.vtt" <<'VTT'
WEBVTT
X-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000

1
00:00:01.000 --> 00:00:05.000
streamgate fixture: first cue (1 s to 5 s)

2
00:00:08.000 --> 00:00:12.000
second cue (8 s to 12 s)

3
00:00:15.000 --> 00:00:19.000
third cue (15 s to 19 s)

4
00:00:22.000 --> 00:00:28.000
last cue (22 s to 28 s)
VTT

# --- HLS VOD, MPEG-TS, AES-128, audio muxed -------------------------------------------------
T="$B/vod-ts-aes"
mkdir -p "$T"
printf '%b' "$(printf '%s' "$KEY_HEX" | sed 's/../\\x&/g')" >"$T/key.bin"
# Key info file (ffmpeg hlsenc): the URI written into EXT-X-KEY, where to read the key, and the IV.
# Without an IV line ffmpeg would still write IV=<first media sequence number> and use it for every
# segment; a fixed non-zero IV makes the choice visible (RFC 8216 §4.3.2.4).
printf '%s\n%s\n%s\n' 'key.bin' "$T/key.bin" "$IV_HEX" >"$WORK/keyinfo"
(cd "$T" && "${FF[@]}" -i "$M/v360.mp4" -i "$M/audio.aac" -map 0:v -map 1:a -c copy "${MUX[@]}" \
  "${VOD_CUT[@]}" -f hls -hls_time "$SEG" -hls_playlist_type vod -hls_key_info_file "$WORK/keyinfo" \
  -hls_segment_filename 'seg_%03d.ts' index.m3u8)

# --- DASH: the same 234p + 360p + audio, four addressing schemes -----------------------------
dash() { # name dash-muxer-options...
  local d="$B/dash/$1"
  shift
  mkdir -p "$d"
  (cd "$d" && "${FF[@]}" -i "$M/v234.mp4" -i "$M/v360.mp4" -i "$M/audio.aac" -map 0:v -map 1:v -map 2:a \
    -c copy "${MUX[@]}" "${VOD_CUT[@]}" -f dash -seg_duration "$SEG" -adaptation_sets 'id=0,streams=v id=1,streams=a' \
    "$@" manifest.mpd)
}
dash number -use_template 1 -use_timeline 0 -init_seg_name 'init-$RepresentationID$.m4s' \
  -media_seg_name 'seg-$RepresentationID$-$Number%03d$.m4s'
dash timeline -use_template 1 -use_timeline 1 -init_seg_name 'init-$RepresentationID$.m4s' \
  -media_seg_name 'seg-$RepresentationID$-$Time$.m4s'
dash list -use_template 0 -init_seg_name 'init-$RepresentationID$.m4s' \
  -media_seg_name 'seg-$RepresentationID$-$Number%03d$.m4s'
# One file per representation with a global sidx; ffmpeg describes it with SegmentList@mediaRange,
# fixture-manifests.mjs adds segmentbase.mpd (SegmentBase@indexRange) over the same files.
dash single -single_file 1 -global_sidx 1 -single_file_name 'stream-$RepresentationID$.mp4'
dash_per_representation "$B" "$M"

# --- Live source: 60 s of 2 s MPEG-TS segments for the live simulator ------------------------
L="$B/live-src"
mkdir -p "$L"
(cd "$L" && "${FF[@]}" -i "$M/live360.mp4" -i "$M/live-audio.aac" -map 0:v -map 1:a -c copy "${MUX[@]}" \
  "${LIVE_CUT[@]}" -f hls -hls_time "$SEG" -hls_playlist_type vod -hls_segment_filename 'seg_%03d.ts' source.m3u8)

live_dash_src "$B/live-dash-src" "$M"

# --- Hand-assembled manifests: masters, I-frame playlist, SegmentBase MPD, live-src/manifest.json -
node "$ROOT/scripts/fixture-manifests.mjs" "$B"

echo "verifying" >&2
"$ROOT/scripts/verify-fixtures.sh" "$B"

for d in vod-fmp4 vod-ts-aes dash live-src live-dash-src; do
  rm -rf "${OUT:?}/$d"
done
mkdir -p "$OUT"
cp -R "$B"/. "$OUT"/
du -sh "$OUT" "$OUT"/*/ >&2
