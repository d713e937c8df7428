import { DemoPlayer, requests } from './player.js';

const player = new DemoPlayer(document.getElementById('video'), document.getElementById('message'));
window.demo = { player, requests };

const params = new URLSearchParams(location.search);
const streams = await (await fetch('/api/streams')).json();
const stream = streams.find((s) => s.id === params.get('stream')) ?? streams[0];
const query = new URLSearchParams({ stream: stream.id, ttl: params.get('ttl') ?? '3600', variant: 'valid' });
const { url } = await (await fetch(`/api/sign?${query}`)).json();
player.play(url, stream.type);
