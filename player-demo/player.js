// The demo's player glue: plays a signed link with hls.js or dash.js, records every request the page
// makes (token redacted) and turns 403/410 into a message instead of a spinning player.

const TOKEN_PARAMS = ['md5', 'token'];
const EXPIRY_PARAMS = ['expires', 'expire'];
const PATH_TOKEN = /\/~([^/~]*)~(\d+)\//;

/**
 * Seconds of life left in the token a URL carries, null when it carries none, or 'sealed' for an
 * ectoken, whose expiry is inside the encrypted token.
 */
export function tokenLife(url) {
  const u = new URL(url, location.href);
  const path = PATH_TOKEN.exec(u.pathname);
  const expires = path ? path[2] : EXPIRY_PARAMS.map((p) => u.searchParams.get(p)).find((v) => v !== null);
  if (!expires) return u.searchParams.has('token') ? 'sealed' : null;
  return Number(expires) - Math.floor(Date.now() / 1000);
}

/** The URL with token values replaced, safe to show and to log. */
export function redact(url) {
  const u = new URL(url, location.href);
  for (const name of TOKEN_PARAMS) if (u.searchParams.has(name)) u.searchParams.set(name, 'REDACTED');
  const path = u.pathname.replace(PATH_TOKEN, (_m, _t, e) => `/~REDACTED~${e}/`);
  return `${u.host}${path}${u.search.replace(/REDACTED/g, '…')}`;
}

const listeners = new Set();
export const requests = [];

function record(url, status) {
  const entry = { url: String(url), shown: redact(url), status, life: tokenLife(url), at: Date.now() };
  requests.push(entry);
  for (const listener of listeners) listener(entry);
}

export function onRequest(listener) {
  listeners.add(listener);
}

// Players load with XHR (hls.js) or XHR/fetch (dash.js): watch both, whatever the player.
const open = XMLHttpRequest.prototype.open;
XMLHttpRequest.prototype.open = function patchedOpen(method, url, ...rest) {
  this.addEventListener('loadend', () => record(this.responseURL || url, this.status));
  return open.call(this, method, url, ...rest);
};
const nativeFetch = window.fetch.bind(window);
window.fetch = async (input, init) => {
  const url = typeof input === 'string' ? input : input.url;
  try {
    const response = await nativeFetch(input, init);
    if (!url.includes('/api/')) record(url, response.status);
    return response;
  } catch (error) {
    record(url, 0);
    throw error;
  }
};

const MESSAGES = {
  403: ['denied', 'Access denied (403): this link is not valid — it was altered or signed with another key.'],
  410: ['expired', 'This link has expired (410). Ask the site for a new one.'],
};

export class DemoPlayer {
  constructor(video, message) {
    this.video = video;
    this.message = message;
    this.engine = null;
    this.state = 'idle';
    this.error = null;
    onRequest((entry) => {
      if ((entry.status === 403 || entry.status === 410) && this.state !== 'error') this.fail(entry.status);
    });
  }

  fail(status) {
    this.state = 'error';
    this.error = { status };
    const [kind, text] = MESSAGES[status] ?? ['denied', `Playback failed (${status || 'network error'}).`];
    this.message.dataset.kind = kind;
    this.message.textContent = text;
    this.message.hidden = false;
    this.stop();
  }

  stop() {
    if (this.engine?.destroy) this.engine.destroy();
    if (this.engine?.reset) this.engine.reset();
    this.engine = null;
    this.video.removeAttribute('src');
    this.video.load();
  }

  play(url, type, { onTracks } = {}) {
    this.stop();
    this.state = 'loading';
    this.error = null;
    this.message.hidden = true;
    const started = () => {
      if (this.state === 'loading') this.state = 'playing';
    };
    this.video.addEventListener('playing', started, { once: true });
    if (type === 'dash') {
      const player = dashjs.MediaPlayer().create();
      player.updateSettings({ streaming: { retryAttempts: { MPD: 0 } } });
      // Live clock sync uses the MPD's own UTCTiming (on the gateway); never dash.js's default
      // third-party time server.
      player.clearDefaultUTCTimingSources();
      player.initialize(this.video, url, true);
      player.on(dashjs.MediaPlayer.events.ERROR, () => {
        if (this.state !== 'error') this.fail(this.lastFailure());
      });
      player.on(dashjs.MediaPlayer.events.STREAM_INITIALIZED, () =>
        onTracks?.({
          audio: player.getTracksFor('audio').map((t, i) => ({ id: i, name: t.lang || `audio ${i + 1}` })),
          subtitles: player.getTracksFor('text').map((t, i) => ({ id: i, name: t.lang || `text ${i + 1}` })),
          setAudio: (i) => player.setCurrentTrack(player.getTracksFor('audio')[i]),
          setSubtitles: (i) => {
            if (i < 0) player.enableText(false);
            else {
              player.enableText(true);
              player.setTextTrack(i);
            }
          },
        }),
      );
      this.engine = player;
      return;
    }
    const hls = new Hls({ manifestLoadingMaxRetry: 0, levelLoadingMaxRetry: 2, fragLoadingMaxRetry: 2 });
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (data.fatal && this.state !== 'error') this.fail(data.response?.code ?? this.lastFailure());
    });
    const reportTracks = () =>
      onTracks?.({
        audio: hls.audioTracks.map((t, i) => ({ id: i, name: t.name || t.lang || `audio ${i + 1}` })),
        subtitles: hls.subtitleTracks.map((t, i) => ({
          id: i,
          name: t.name || t.lang || `subtitles ${i + 1}`,
        })),
        setAudio: (i) => {
          hls.audioTrack = i;
        },
        setSubtitles: (i) => {
          hls.subtitleDisplay = i >= 0;
          hls.subtitleTrack = i;
        },
      });
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      this.video.play().catch(() => {});
      reportTracks();
    });
    // hls.js fills its track lists after the manifest is parsed.
    hls.on(Hls.Events.AUDIO_TRACKS_UPDATED, reportTracks);
    hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, reportTracks);
    hls.loadSource(url);
    hls.attachMedia(this.video);
    this.engine = hls;
  }

  lastFailure() {
    const failed = [...requests].reverse().find((r) => r.status >= 400 || r.status === 0);
    return failed ? failed.status : 0;
  }
}
