import { DemoPlayer, onRequest, requests } from './player.js';

const $ = (id) => document.getElementById(id);
const player = new DemoPlayer($('video'), $('message'));
let streams = [];

// For the browser tests and for the curious: the page's state, read from the console.
window.demo = {
  player,
  requests,
  get streams() {
    return streams;
  },
};

function addRow(entry) {
  const row = document.createElement('tr');
  if (entry.status >= 400 || entry.status === 0) row.className = 'bad';
  const life = entry.life === null ? 'no token' : entry.life === 'sealed' ? 'encrypted' : `${entry.life} s`;
  for (const [text, cls] of [[requests.length], [entry.shown, 'path'], [entry.status || 'failed'], [life]]) {
    const cell = document.createElement('td');
    cell.textContent = String(text);
    if (cls) cell.className = cls;
    row.append(cell);
  }
  $('requests').prepend(row);
}
onRequest(addRow);

function fillTracks(select, tracks, onPick, withOff) {
  select.replaceChildren();
  if (withOff) select.append(new Option('off', '-1'));
  for (const track of tracks) select.append(new Option(track.name, String(track.id)));
  select.disabled = tracks.length === 0;
  select.onchange = () => onPick(Number(select.value));
}

async function play() {
  const stream = streams.find((s) => s.id === $('stream').value);
  if (!stream) return;
  const params = new URLSearchParams({ stream: stream.id, ttl: $('ttl').value, variant: $('variant').value });
  const response = await fetch(`/api/sign?${params}`);
  const { url } = await response.json();
  $('link').textContent = url;
  $('snippet').textContent =
    `<iframe src="${location.origin}/embed?stream=${encodeURIComponent(stream.id)}" width="640" height="360" ` +
    `allow="autoplay; fullscreen" style="border:0"></iframe>`;
  player.play(url, stream.type, {
    onTracks: (tracks) => {
      fillTracks($('audio'), tracks.audio, tracks.setAudio, false);
      fillTracks($('subtitles'), tracks.subtitles, tracks.setSubtitles, true);
    },
  });
}

async function start() {
  streams = await (await fetch('/api/streams')).json();
  for (const stream of streams) $('stream').append(new Option(stream.title, stream.id));
  $('play').addEventListener('click', play);
  setInterval(() => {
    $('clock').textContent = `${$('video').currentTime.toFixed(1)} s`;
  }, 250);
  const preset = new URLSearchParams(location.search);
  if (preset.get('stream')) {
    $('stream').value = preset.get('stream');
    if (preset.get('ttl')) $('ttl').value = preset.get('ttl');
    if (preset.get('variant')) $('variant').value = preset.get('variant');
    await play();
  }
}
start();
