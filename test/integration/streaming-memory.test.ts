/**
 * README "What the gateway does with a request": "a segment is never held whole in memory". 512 MiB go through the gateway while the
 * gateway's process RSS is sampled. The origin (generating the bytes on the fly) and the client
 * (hashing and counting them) run in a child process, so this process holds only the gateway.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { signed, startGateway } from './support.js';

const TOTAL = 512 * 1024 * 1024;
const MAX_GROWTH = 64 * 1024 * 1024;

// Plain JavaScript run by `node -e`: an origin that writes TOTAL bytes with backpressure, and on
// "GET <bytes> <url>" a client that reads that many bytes through the gateway.
const CHILD = `
const http = require('node:http');
const crypto = require('node:crypto');
const readline = require('node:readline');
let TOTAL = ${TOTAL};
const block = Buffer.alloc(65536);
for (let i = 0; i < block.length; i++) block[i] = (i * 7 + 3) & 255;
let sentHash = '';
const origin = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': String(TOTAL) });
  const hash = crypto.createHash('md5');
  let sent = 0;
  const pump = () => {
    while (sent < TOTAL) {
      const chunk = block.subarray(0, Math.min(block.length, TOTAL - sent));
      sent += chunk.length;
      hash.update(chunk);
      if (!res.write(chunk)) { res.once('drain', pump); return; }
    }
    sentHash = hash.digest('hex');
    res.end();
  };
  pump();
});
origin.listen(0, '127.0.0.1', () => console.log('PORT ' + origin.address().port));
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const [, size, url] = line.split(' ');
  TOTAL = Number(size);
  const started = Date.now();
  http.get(url, { agent: false }, (res) => {
    const hash = crypto.createHash('md5');
    let received = 0;
    res.on('data', (chunk) => { received += chunk.length; hash.update(chunk); });
    res.on('end', () => {
      console.log('DONE ' + JSON.stringify({ status: res.statusCode, received, same: hash.digest('hex') === sentHash, ms: Date.now() - started }));
    });
  }).on('error', (e) => { console.log('DONE ' + JSON.stringify({ error: String(e) })); process.exit(1); });
});
`;

const children: ReturnType<typeof spawn>[] = [];
afterAll(() => {
  for (const child of children) child.kill();
});

describe('streaming with backpressure', () => {
  it(
    'a 512 MiB body passes through the gateway with RSS growth under 64 MiB',
    { timeout: 120_000 },
    async () => {
      const child = spawn(process.execPath, ['-e', CHILD], { stdio: ['pipe', 'pipe', 'inherit'] });
      children.push(child);
      const lines = createInterface({ input: child.stdout! });
      const waiting = new Map<string, (rest: string) => void>();
      lines.on('line', (line) => {
        const [word, ...rest] = line.split(' ');
        waiting.get(word ?? '')?.(rest.join(' '));
      });
      const next = (word: string) => new Promise<string>((resolve) => waiting.set(word, resolve));

      const port = Number(await next('PORT'));
      const gw = await startGateway(`http://127.0.0.1:${port}`);
      try {
        // Warm up first (JIT, socket and pool buffers, heap sizing): what is measured is the growth
        // that depends on the body's size.
        const warm = next('DONE');
        child.stdin!.write(`GET ${32 * 1024 * 1024} ${gw.url}${signed('/big/warm-up.mp4')}\n`);
        expect((JSON.parse(await warm) as { received: number }).received).toBe(32 * 1024 * 1024);
        const rssBefore = process.memoryUsage().rss;
        let rssPeak = rssBefore;
        const sampler = setInterval(() => {
          rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
        }, 20);
        const done = next('DONE');
        child.stdin!.write(`GET ${TOTAL} ${gw.url}${signed('/big/file.mp4')}\n`);
        const result = JSON.parse(await done) as {
          status: number;
          received: number;
          same: boolean;
          ms: number;
        };
        clearInterval(sampler);
        rssPeak = Math.max(rssPeak, process.memoryUsage().rss);

        expect(result.status).toBe(200);
        expect(result.received).toBe(TOTAL);
        expect(result.same).toBe(true);
        const growth = rssPeak - rssBefore;
        console.log(
          `512 MiB in ${result.ms} ms (${((TOTAL / 1048576 / result.ms) * 1000).toFixed(0)} MiB/s); ` +
            `gateway RSS ${(rssBefore / 1048576).toFixed(1)} → peak ${(rssPeak / 1048576).toFixed(1)} MiB ` +
            `(+${(growth / 1048576).toFixed(1)} MiB)`,
        );
        expect(growth).toBeLessThan(MAX_GROWTH);
        const metrics = await (await fetch(`${gw.url}/_streamgate/metrics`)).text();
        expect(metrics).toContain(`streamgate_response_bytes_total{zone="test"} ${TOTAL + 32 * 1024 * 1024}`);
      } finally {
        await gw.close();
        child.stdin!.end();
        child.kill();
        if (child.exitCode === null) await once(child, 'exit');
      }
    },
  );
});
