import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUrl } from '../../src/index.js';
import { getOnce, startServeProcess, type LogLine, type ServeProcess } from '../helpers/serve-process.js';

// Key rotation without a restart, through the real command: a gateway reads its keys from a file; while
// a long download is in flight the file gains a new key, loses one, and SIGHUP is sent. The new key must
// open links within a second, the old listed key must still open them, the removed one must not, and
// the download must complete byte for byte. An invalid key file or configuration file is refused and the
// keys in force keep working. The same with --workers 2, where the primary relays the reload.

const K1 = 'rotation-key-one';
const K2 = 'rotation-key-two';
const K3 = 'rotation-key-three';
const BIG = randomBytes(6 * 1024 * 1024);
const HALF = BIG.length / 2;
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

/**
 * The origin: /vod/big.bin sends half its bytes, then waits until the test lets it finish, so the
 * download is in flight for as long as the test needs, however slow the machine; /vod/small.ts at once.
 */
class HeldOrigin {
  readonly server: Server;
  #release: () => void = () => {};
  #held = new Promise<void>((resolve) => (this.#release = resolve));

  constructor() {
    this.server = createServer((req, res) => {
      if (req.url?.startsWith('/vod/big.bin')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BIG.length });
        res.write(BIG.subarray(0, HALF));
        void this.#held.then(() => res.end(BIG.subarray(HALF)));
        return;
      }
      res.writeHead(200, { 'content-type': 'video/mp2t', 'content-length': 5 });
      res.end('small');
    });
  }

  release(): void {
    this.#release();
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
}

/** A download through the gateway, collecting its bytes; `started` resolves with its first chunk. */
function download(url: string): { started: Promise<void>; done: Promise<{ status: number; body: Buffer }> } {
  let markStarted: () => void = () => {};
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const done = new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
    const req = httpRequest(url, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        markStarted();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
  return { started, done };
}

const sign = (key: string, path = '/vod/small.ts'): string =>
  signUrl(path, { scheme: 'gcore', secret: key, ttl: 600 });

/** Asks with a link signed by `key` until it opens (or 10 s pass); returns the milliseconds it took. */
async function msUntilOpens(base: string, key: string): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < 10_000) {
    if ((await getOnce(`${base}${sign(key)}`)).status === 200) return Date.now() - started;
  }
  return Infinity;
}

async function statuses(base: string, key: string, times: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < times; i += 1) out.push((await getOnce(`${base}${sign(key)}`)).status);
  return out;
}

function scenario(label: string, extraArgs: string[], reloadedLine: (line: LogLine) => boolean): void {
  describe(label, () => {
    let origin: HeldOrigin;
    let serve: ServeProcess;
    let dir = '';
    let base = '';
    const keyFile = (): string => join(dir, 'keys.txt');
    const configFile = (): string => join(dir, 'streamgate.yaml');
    const writeConfig = (text?: string): void =>
      writeFileSync(
        configFile(),
        text ??
          `log: { level: info }\nzones:\n  - name: vod\n    origin: ${origin.url}\n    scheme: gcore\n    secretFile: keys.txt\n`,
      );

    beforeAll(async () => {
      origin = new HeldOrigin();
      origin.server.listen(0, '127.0.0.1');
      await once(origin.server, 'listening');
      dir = mkdtempSync(join(tmpdir(), 'streamgate-reload-'));
      writeFileSync(keyFile(), `${K1}\n${K2}\n`);
      writeConfig();
      serve = startServeProcess(['--config', configFile(), '--port', '0', ...extraArgs]);
      const ready = await serve.waitFor(
        (line) =>
          line.msg?.startsWith('listening on') === true &&
          (extraArgs.length === 0 || line.role === 'primary'),
      );
      base = ready.url ?? '';
    }, 60_000);

    afterAll(async () => {
      origin.release();
      await serve.kill();
      origin.server.closeAllConnections();
      origin.server.close();
    });

    it('the file gains a key and loses one, SIGHUP: the new key opens within a second, the kept one still does, the removed one no longer; the download in flight completes byte for byte', async () => {
      const big = download(`${base}${sign(K1, '/vod/big.bin')}`);
      await big.started;
      expect(await statuses(base, K2, 2)).toEqual([200, 200]);
      expect(await statuses(base, K3, 2)).toEqual([403, 403]);

      writeFileSync(keyFile(), `${K3}\n${K1}\n`);
      const mark = serve.lines.length;
      serve.child.kill('SIGHUP');
      const ms = await msUntilOpens(base, K3);
      expect(ms, 'the new key opens within a second').toBeLessThan(1000);
      const reloaded = await serve.waitFor(reloadedLine, { from: mark });
      expect(JSON.stringify(serve.lines.slice(mark))).not.toMatch(/rotation-key/);

      // Both workers (with --workers 2) answer: consecutive connections go to each in turn.
      expect(await statuses(base, K3, 6)).toEqual([200, 200, 200, 200, 200, 200]);
      expect(await statuses(base, K1, 6)).toEqual([200, 200, 200, 200, 200, 200]);
      expect(await statuses(base, K2, 6)).toEqual([403, 403, 403, 403, 403, 403]);
      if (extraArgs.includes('--workers')) {
        expect(reloaded.role).toBe('primary');
        const answeredBy = (status: number): Set<number | undefined> =>
          new Set(
            serve.lines
              .slice(mark)
              .filter((line) => line.msg === 'access' && line.status === status)
              .map((line) => line.worker),
          );
        await serve.waitFor((line) => line.msg === 'access' && line.status === 403, { from: mark });
        expect(answeredBy(200)).toEqual(new Set([1, 2]));
      }

      origin.release();
      const { status, body } = await big.done;
      expect(status).toBe(200);
      expect(body.length).toBe(BIG.length);
      expect(sha256(body)).toBe(sha256(BIG));
    }, 60_000);

    it('an invalid key file is refused with its problem; the keys in force keep working', async () => {
      writeFileSync(keyFile(), '\n\n');
      const mark = serve.lines.length;
      serve.child.kill('SIGHUP');
      const refused = await serve.waitFor((line) => line.msg?.startsWith('configuration refused') === true, {
        from: mark,
      });
      expect(refused.level).toBe('error');
      expect(refused.problems).toEqual([`zones[0].secretFile: ${keyFile()} holds no key (one key per line)`]);
      expect(await statuses(base, K3, 4)).toEqual([200, 200, 200, 200]);
      expect(await statuses(base, K1, 4)).toEqual([200, 200, 200, 200]);
      expect(await statuses(base, K2, 2)).toEqual([403, 403]);
      if (extraArgs.includes('--workers')) {
        // The primary read it first: the workers were never asked, and said nothing.
        expect(refused.role).toBe('primary');
        expect(
          serve.lines.slice(mark).filter((line) => line.msg?.startsWith('configuration r')),
        ).toHaveLength(1);
      }
    }, 60_000);

    it('an invalid configuration file is refused with every problem; the running one stays', async () => {
      writeFileSync(keyFile(), `${K3}\n${K1}\n`);
      writeConfig(
        `zones:\n  - name: vod\n    origin: ftp://x\n    scheme: gcore\n    secretFile: keys.txt\n    ttl: 3\n`,
      );
      const mark = serve.lines.length;
      serve.child.kill('SIGHUP');
      const refused = await serve.waitFor((line) => line.msg?.startsWith('configuration refused') === true, {
        from: mark,
      });
      expect(refused.problems).toHaveLength(2);
      expect(refused.problems?.join('\n')).toMatch(/zones\[0\]\.origin: must be an http or https URL/);
      expect(refused.problems?.join('\n')).toMatch(/zones\[0\]\.ttl: unknown key/);
      expect(await statuses(base, K3, 4)).toEqual([200, 200, 200, 200]);
      expect(await statuses(base, K2, 2)).toEqual([403, 403]);
      // Still stoppable as usual.
      const exited = once(serve.child, 'exit');
      serve.child.kill('SIGTERM');
      expect(((await exited) as [number | null])[0]).toBe(0);
    }, 60_000);
  });
}

scenario(
  'serve --config with a key file: SIGHUP reloads',
  [],
  (line) => line.msg === 'configuration reloaded' && line.role === undefined,
);
scenario(
  'serve --config --workers 2: the primary relays SIGHUP to every worker',
  ['--workers', '2'],
  (line) => line.msg === 'configuration reloaded in every worker',
);

describe('reload.watch: a changed key file is picked up without a signal', () => {
  it('polls the key file and applies the new keys; a broken file is refused and the keys in force stay', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'streamgate-watch-'));
    writeFileSync(join(dir, 'keys.txt'), `${K1}\n`);
    writeFileSync(
      join(dir, 'streamgate.yaml'),
      'reload: { watch: true, intervalMs: 100 }\nzones:\n  - name: vod\n    origin: http://127.0.0.1:9\n    scheme: gcore\n    secretFile: keys.txt\n',
    );
    const serve = startServeProcess(['--config', join(dir, 'streamgate.yaml'), '--port', '0']);
    try {
      const base = (await serve.waitFor((line) => line.msg?.startsWith('listening on') === true)).url ?? '';
      // 403 for a bad token before the origin (which does not exist) is asked: the token decides.
      expect((await getOnce(`${base}${sign(K2)}`)).status).toBe(403);
      let mark = serve.lines.length;
      writeFileSync(join(dir, 'keys.txt'), `${K2}\n${K1}\n`);
      const reloaded = await serve.waitFor((line) => line.msg === 'configuration reloaded', { from: mark });
      expect(reloaded.source).toBe('file changed');
      expect(reloaded.changes).toEqual(['zone vod: keys 1 → 2 (1 new key, 0 keys removed, new signing key)']);
      // An open link reaches the origin: 502, since nothing listens there.
      expect((await getOnce(`${base}${sign(K2)}`)).status).toBe(502);
      mark = serve.lines.length;
      writeFileSync(join(dir, 'keys.txt'), '');
      const refused = await serve.waitFor((line) => line.msg?.startsWith('configuration refused') === true, {
        from: mark,
      });
      expect(refused.source).toBe('file changed');
      expect((await getOnce(`${base}${sign(K2)}`)).status).toBe(502);
      expect((await getOnce(`${base}${sign(K3)}`)).status).toBe(403);
    } finally {
      await serve.kill();
    }
  }, 60_000);
});

describe('reload.watch: a rotated JWKS file is picked up like a key file', () => {
  it('polls jwt.jwksFile and applies the new public keys; a broken JWKS is refused and the keys in force stay', async () => {
    // jose's own tokens and keys (test/vectors/jwt.json, keys/jwt.jwks.json): RS256 with kid rsa-1,
    // claim prefix /live/.
    const vectors = JSON.parse(readFileSync(new URL('../vectors/jwt.json', import.meta.url), 'utf8')) as {
      vectors: Array<{ id: string; token: string }>;
    };
    const jwks = JSON.parse(
      readFileSync(new URL('../vectors/keys/jwt.jwks.json', import.meta.url), 'utf8'),
    ) as {
      keys: Array<{ kid: string }>;
    };
    const token = vectors.vectors.find((vector) => vector.id === 'rs256-prefix-kid')?.token ?? '';
    const withoutRsa = { keys: jwks.keys.filter((key) => key.kid !== 'rsa-1') };
    const dir = mkdtempSync(join(tmpdir(), 'streamgate-watch-jwks-'));
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify(withoutRsa));
    writeFileSync(
      join(dir, 'streamgate.yaml'),
      'reload: { watch: true, intervalMs: 100 }\nzones:\n  - name: live\n    origin: http://127.0.0.1:9\n    scheme: jwt\n    tokens: forward\n    jwt: { jwksFile: jwks.json }\n',
    );
    const serve = startServeProcess(['--config', join(dir, 'streamgate.yaml'), '--port', '0']);
    try {
      const base = (await serve.waitFor((line) => line.msg?.startsWith('listening on') === true)).url ?? '';
      const link = `${base}/live/a.ts?token=${token}`;
      // No key named rsa-1 yet: 403 before the origin (which does not exist) is asked.
      expect((await getOnce(link)).status).toBe(403);
      let mark = serve.lines.length;
      writeFileSync(join(dir, 'jwks.json'), JSON.stringify(jwks));
      const reloaded = await serve.waitFor((line) => line.msg === 'configuration reloaded', { from: mark });
      expect(reloaded.source).toBe('file changed');
      // The token opens the path now: the request reaches the origin, 502 since nothing listens there.
      expect((await getOnce(link)).status).toBe(502);
      mark = serve.lines.length;
      writeFileSync(join(dir, 'jwks.json'), '{"keys": [');
      const refused = await serve.waitFor((line) => line.msg?.startsWith('configuration refused') === true, {
        from: mark,
      });
      expect(refused.source).toBe('file changed');
      expect(JSON.stringify(refused)).toContain('jwksFile');
      expect((await getOnce(link)).status).toBe(502);
    } finally {
      await serve.kill();
    }
  }, 60_000);
});
