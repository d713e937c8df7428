import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configOrThrow, type ConfigInput } from '../../src/config/index.js';
import { createGateway } from '../../src/gateway/index.js';
import { httpGet, SECRET, signed } from './support.js';

// gateway.reload() through the library: what changes live, what needs a restart, and that a request
// keeps the configuration it arrived under — a download from an origin the new configuration no longer
// names still completes, through the retired connection pool.

const BODY = randomBytes(2 * 1024 * 1024);
const sha = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

interface Held {
  readonly server: Server;
  readonly url: string;
  release(): void;
}

/** An origin that names itself in each small answer and holds /big.bin at half until released. */
async function heldOrigin(name: string): Promise<Held> {
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/vod/big.bin')) {
      res.writeHead(200, { 'content-length': BODY.length, 'content-type': 'application/octet-stream' });
      res.write(BODY.subarray(0, BODY.length / 2));
      void held.then(() => res.end(BODY.subarray(BODY.length / 2)));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(name);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    release: () => release(),
  };
}

const base = (origin: string, zones: ConfigInput['zones'] = []): ConfigInput => ({
  log: { level: 'silent' },
  shutdownGraceMs: 1000,
  zones: [{ name: 'vod', pathPrefix: '/vod', origin, scheme: 'gcore', secrets: [SECRET] }, ...zones],
});

let first: Held;
let second: Held;
beforeAll(async () => {
  [first, second] = await Promise.all([heldOrigin('first'), heldOrigin('second')]);
});
afterAll(() => {
  for (const origin of [first, second]) {
    origin.release();
    origin.server.closeAllConnections();
    origin.server.close();
  }
});

describe('gateway.reload()', () => {
  it('moves a zone to another origin and adds a zone; a download begun before completes from the old origin', async () => {
    const gateway = createGateway(configOrThrow(base(first.url)), { defaultMetrics: false });
    const { url } = await gateway.listen({ host: '127.0.0.1', port: 0 });
    try {
      const bytes: Buffer[] = [];
      let started: () => void = () => {};
      const firstChunk = new Promise<void>((resolve) => (started = resolve));
      const done = new Promise<number>((resolve, reject) => {
        const req = httpRequest(`${url}${signed('/vod/big.bin')}`, { agent: false }, (res) => {
          res.on('data', (chunk: Buffer) => {
            bytes.push(chunk);
            started();
          });
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end();
      });
      await firstChunk;
      expect((await httpGet(url, signed('/vod/a.txt'))).body.toString()).toBe('first');

      const result = gateway.reload(
        configOrThrow({
          ...base(second.url, [
            { name: 'extra', pathPrefix: '/extra', origin: first.url, scheme: 'keycdn', secrets: ['k2'] },
          ]),
          listen: { host: '127.0.0.1', port: 1 },
          workers: 2,
        }),
      );
      expect(result).toEqual({
        ok: true,
        restartNeeded: ['listen', 'workers'],
        changes: ['zone vod: origin changed', 'zone extra added'],
      });
      // The running values of restart-only settings stay in force.
      expect(gateway.config.listen.port).toBe(8080);
      expect(gateway.config.workers).toBe(1);
      expect(gateway.config.zones.map((zone) => zone.name)).toEqual(['vod', 'extra']);

      expect((await httpGet(url, signed('/vod/a.txt'))).body.toString()).toBe('second');
      expect((await httpGet(url, signed('/extra/a.txt'))).status).toBe(403);

      first.release();
      expect(await done).toBe(200);
      expect(sha(Buffer.concat(bytes))).toBe(sha(BODY));
    } finally {
      await gateway.close();
    }
  });

  it('log.level changes live: access lines start with info and stop with warn', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        callback();
      },
    });
    const quiet = { ...base(second.url), log: { level: 'warn' as const } };
    const gateway = createGateway(configOrThrow(quiet), {
      defaultMetrics: false,
      logDestination: destination as unknown as NodeJS.WritableStream & { write(msg: string): void },
    });
    const { url } = await gateway.listen({ host: '127.0.0.1', port: 0 });
    const access = (): number => lines.filter((line) => line.includes('"msg":"access"')).length;
    try {
      await httpGet(url, signed('/vod/a.txt'));
      expect(gateway.reload({ ...quiet, log: { level: 'info' } })).toMatchObject({
        ok: true,
        changes: ['log changed'],
      });
      await httpGet(url, signed('/vod/a.txt'));
      await expect.poll(access).toBe(1);
      expect(gateway.reload(quiet).ok).toBe(true);
      await httpGet(url, signed('/vod/a.txt'));
    } finally {
      await gateway.close();
    }
    expect(access()).toBe(1);
  });

  it('refuses an invalid configuration with every problem and keeps serving the running one', async () => {
    const gateway = createGateway(configOrThrow(base(second.url)), { defaultMetrics: false });
    const { url } = await gateway.listen({ host: '127.0.0.1', port: 0 });
    try {
      const result = gateway.reload({
        zones: [{ name: 'vod', origin: 'ftp://nope', scheme: 'gcore', secrets: [SECRET], segmentTTL: 1 }],
      } as unknown as ConfigInput);
      expect(result.ok).toBe(false);
      expect(result.ok ? [] : result.problems).toEqual([
        'zones[0].origin: must be an http or https URL, e.g. http://127.0.0.1:8081 (got scheme "ftp")',
        'zones[0].segmentTTL: unknown key; did you mean "segmentTtl"?',
      ]);
      expect((await httpGet(url, signed('/vod/a.txt'))).body.toString()).toBe('second');
      // A country database that cannot be read is refused too (the lookup is rebuilt on each reload).
      const geo = gateway.reload({ ...base(second.url), geo: { database: '/nonexistent.mmdb' } });
      expect(geo.ok ? '' : geo.problems.join()).toMatch(/geo\.database: cannot read \/nonexistent\.mmdb/);
      expect((await httpGet(url, signed('/vod/a.txt'))).status).toBe(200);
    } finally {
      await gateway.close();
    }
    expect(gateway.reload(base(second.url))).toEqual({
      ok: false,
      problems: ['the gateway is shutting down'],
    });
  });
});
