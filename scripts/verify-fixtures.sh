#!/usr/bin/env bash
# Decodes every fixture end to end with ffmpeg, so a fixture that no player could play fails here.
#   scripts/verify-fixtures.sh [DIR]     (default: fixtures/media)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$(cd "${1:-$ROOT/fixtures/media}" && pwd)"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

decode() { # label input [extra input options...] — fails on any decoder or demuxer error
  local label=$1 input=$2
  shift 2
  local err
  err="$(ffmpeg -hide_banner -nostdin -v error "$@" -i "$input" -map 0 -f null - 2>&1)" || {
    echo "FAIL $label: $err" >&2
    return 1
  }
  [ -z "$err" ] || {
    echo "FAIL $label: $err" >&2
    return 1
  }
  echo "ok   $label" >&2
}

streams() { # input → e.g. "audio,video" as ffprobe sees it (each stream once, also when in programs)
  ffprobe -v error -show_entries stream=index,codec_type -of csv=p=0 "$@" | grep -v '^,*$' | sort -u |
    cut -d, -f2 | sort | paste -sd, -
}

expect_streams() { # label want input [options]
  local label=$1 want=$2
  shift 2
  local got
  got="$(streams "$@")"
  [ "$got" = "$want" ] || {
    echo "FAIL $label: streams '$got', want '$want'" >&2
    return 1
  }
}

# HLS: each media playlist on its own, then the multivariant playlists.
for p in "$DIR"/vod-fmp4/{v0,v1,v2,audio}/index.m3u8 "$DIR"/live-src/source.m3u8; do
  decode "${p#"$DIR"/}" "$p"
done
# ffmpeg's hls demuxer opens only files with media extensions unless told otherwise; key.bin is not one.
KEYOK=(-allowed_extensions ALL)
decode vod-ts-aes/index.m3u8 "$DIR/vod-ts-aes/index.m3u8" "${KEYOK[@]}"
decode vod-fmp4/master.m3u8 "$DIR/vod-fmp4/master.m3u8"
# ffmpeg's hls demuxer exposes every variant and the audio rendition; ffmpeg 5.1 does not read
# subtitle renditions, so en.vtt is decoded on its own below.
expect_streams vod-fmp4/master.m3u8 "audio,video,video,video" "$DIR/vod-fmp4/master.m3u8"
decode vod-ts-aes/master.m3u8 "$DIR/vod-ts-aes/master.m3u8" "${KEYOK[@]}"
expect_streams vod-ts-aes "audio,video" "${KEYOK[@]}" "$DIR/vod-ts-aes/master.m3u8"
vtt="$(ffmpeg -hide_banner -nostdin -v error -i "$DIR/vod-fmp4/subs/en.vtt" -f srt - | grep -c -- '-->')"
[ "$vtt" -ge 1 ] || {
  echo "FAIL subs/en.vtt: no cues" >&2
  exit 1
}
echo "ok   vod-fmp4/subs/en.vtt ($vtt cues)" >&2

# I-frame playlist: each byte range, appended to the init segment, must decode to exactly one frame.
ifr="$DIR/vod-fmp4/v0/iframes.m3u8"
n=0
while IFS= read -r line; do
  case "$line" in
    '#EXT-X-BYTERANGE:'*)
      range="${line#*:}"
      len="${range%@*}"
      off="${range#*@}"
      ;;
    '#'* | '') ;;
    *)
      cat "$DIR/vod-fmp4/v0/init.mp4" >"$TMP/iframe.mp4"
      dd if="$DIR/vod-fmp4/v0/$line" iflag=skip_bytes,count_bytes skip="$off" count="$len" bs=65536 \
        status=none >>"$TMP/iframe.mp4"
      # The trun still lists every sample of the fragment, so the demuxer reports the cut-off ones as a
      # "partial file"; what matters is that the I-frame inside the range decodes.
      frames="$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
        -of csv=p=0 "$TMP/iframe.mp4" 2>/dev/null)"
      [ "$frames" = 1 ] || {
        echo "FAIL iframes.m3u8 $line: $frames frames" >&2
        exit 1
      }
      n=$((n + 1))
      ;;
  esac
done <"$ifr"
echo "ok   vod-fmp4/v0/iframes.m3u8 ($n I-frames, one frame each)" >&2

# DASH: every MPD, every Representation, addressed as a DASH client would.
for m in "$DIR"/dash/*/manifest.mpd "$DIR"/dash/single/segmentbase.mpd; do
  case "$m" in
  */per-representation/*) node "$ROOT/scripts/verify-dash.mjs" "$m" 12 ;;
  *) node "$ROOT/scripts/verify-dash.mjs" "$m" 30 ;;
  esac
done

# Live source: every segment decodes on its own (the simulator serves them individually).
for s in "$DIR"/live-src/seg_*.ts; do
  decode "live-src/$(basename "$s")" "$s"
done
echo "all fixtures decode" >&2
