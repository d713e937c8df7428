import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { main } from '../../src/cli/main.js';
import { serveConfig, startServe } from '../../src/cli/serve.js';
import { loadConfig, resolveConfig } from '../../src/config/index.js';
import { signed, TestOrigin, SECRET } from './support.js';
import { captureIo } from '../helpers/cli-io.js';

const dir = mkdtempSync(join(tmpdir(), 'streamgate-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const io = captureIo;

const problemsOf = (input: unknown, env: NodeJS.ProcessEnv = {}) => {
  const result = resolveConfig(input, { env });
  return result.ok ? [] : [...result.problems];
};

describe('config: one strict schema, every problem reported at once with the field and the fix', () => {
  it('reports all problems of a bad file together, each naming its field path', () => {
    const path = file(
      'bad.yaml',
      [
        'listen:',
        '  port: eighty',
        '  hots: 0.0.0.0',
        'trustedProxies: [10.0.0.0/33]',
        'zones:',
        '  - name: live',
        '    origin: http://127.0.0.1:8081/base?x=1',
        '    scheme: keycdn',
        '    bindIp: true',
        '    secret: [abc]',
        '    playlistTTL: 10',
        '  - name: live',
        '    origin: ftp://example.com',
        '    scheme: fastly',
        '    secrets: [k]',
      ].join('\n'),
    );
    const result = loadConfig({ file: path, env: {} });
    expect(result.ok).toBe(false);
    const problems = result.ok ? [] : result.problems;
    const expected = [
      /^listen\.port: must be a port number 0–65535, e\.g\. 8080 \(/,
      /^listen\.hots: unknown key; did you mean "host"\?$/,
      /^trustedProxies\[0\]: must be an address or CIDR, e\.g\. 10\.0\.0\.0\/8 \(prefix length "33" must be a number from 0 to 32\)$/,
      /^zones\[0\]\.origin: must be an http\(s\) URL without path, query or fragment, e\.g\. http:\/\/127\.0\.0\.1:8081/,
      /^zones\[0\]\.secret: unknown key; did you mean "secrets"\?$/,
      /^zones\[0\]\.playlistTTL: unknown key; did you mean "playlistTtl"\?$/,
      /^zones\[0\]: needs its keys: give one of secrets: \[KEY, …\], secretEnv: VAR or secretFile: PATH$/,
      /^zones\[0\]\.bindIp: the keycdn scheme cannot bind tokens to an IP address; use scheme: gcore or bindIp: false$/,
      /^zones\[1\]\.origin: must be an http or https URL, e\.g\. http:\/\/127\.0\.0\.1:8081 \(got scheme "ftp"\)$/,
      /^zones\[1\]\.scheme: must be one of keycdn, gcore, ectoken, akamai(, [a-z]+)*$/,
    ];
    for (const pattern of expected)
      expect(
        problems.some((p) => pattern.test(p)),
        String(pattern),
      ).toBe(true);
    expect(problems).toHaveLength(expected.length);
  });

  it('rejects __proto__ keys instead of merging them', () => {
    const problems = problemsOf(JSON.parse('{"__proto__": {"polluted": 1}, "zones": []}'));
    expect(problems).toContain('__proto__: key "__proto__" is not allowed');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const yaml = loadConfig({ file: file('proto.yaml', 'zones:\n  - __proto__: {x: 1}\n'), env: {} });
    expect(yaml.ok ? [] : yaml.problems).toContain('zones[0].__proto__: key "__proto__" is not allowed');
  });

  it('zones must not answer the same host and prefix, and names are unique', () => {
    const zone = { origin: 'http://127.0.0.1:1', scheme: 'gcore', secrets: ['k'] };
    const problems = problemsOf({
      zones: [
        { ...zone, name: 'a', pathPrefix: '/video' },
        { ...zone, name: 'b', pathPrefix: '/video/' },
        { ...zone, name: 'a', pathPrefix: '/video', host: 'cdn.example' },
      ],
    });
    expect(problems).toEqual([
      'zones[1].pathPrefix: zones[0] already answers any host under /video; give one of them another pathPrefix or host',
      'zones[2].name: "a" is already the name of zones[0]',
    ]);
  });

  it('keys come from a list, an environment variable or a file (one per line, first signs)', () => {
    const keyFile = file('keys.txt', 'new-key\n\nold-key\n');
    const base = { name: 'z', origin: 'http://127.0.0.1:1', scheme: 'gcore' };
    const fromFile = resolveConfig({ zones: [{ ...base, secretFile: keyFile }] });
    expect(fromFile.ok && fromFile.config.zones[0]?.keys).toEqual(['new-key', 'old-key']);
    const fromEnv = resolveConfig(
      { zones: [{ ...base, secretEnv: 'LIVE_KEY' }] },
      { env: { LIVE_KEY: 'env-key' } },
    );
    expect(fromEnv.ok && fromEnv.config.zones[0]?.keys).toEqual(['env-key']);
    expect(problemsOf({ zones: [{ ...base, secretEnv: 'LIVE_KEY' }] })).toEqual([
      'zones[0].secretEnv: environment variable LIVE_KEY is not set or empty',
    ]);
    expect(problemsOf({ zones: [{ ...base, secrets: ['a'], secretEnv: 'X' }] })).toEqual([
      'zones[0]: give only one of secrets, secretEnv',
    ]);
  });

  it('applies defaults, normalises, and freezes the result', () => {
    const result = resolveConfig({
      zones: [
        {
          name: 'z',
          pathPrefix: '/live/',
          origin: 'http://Origin.example:8081/',
          scheme: 'gcore',
          secrets: ['k'],
        },
      ],
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const { config } = result;
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(config.limits.manifestMaxBytes).toBe(8 * 1024 * 1024);
    expect(config.cors.allowedOrigins).toEqual(['*']);
    const zone = config.zones[0];
    expect(zone?.pathPrefix).toBe('/live');
    expect(zone?.origin).toBe('http://origin.example:8081');
    expect(zone?.tokens).toBe('mint');
    expect(zone?.playlistTtl).toBe(14_400);
    expect(zone?.segmentTtl).toBe(60);
    expect(zone?.denial.status).toEqual({
      missing: 403,
      malformed: 403,
      invalid: 403,
      rule: 403,
      unsupported: 403,
      expired: 410,
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(zone?.keys)).toBe(true);
  });

  it('order is file → environment → flags; STREAMGATE_SECRET keys a single zone without its own', () => {
    const path = file(
      'order.yaml',
      'listen: {host: 127.0.0.1, port: 1111}\nzones:\n  - {name: z, origin: "http://127.0.0.1:1", scheme: gcore}\n',
    );
    const env = { STREAMGATE_PORT: '2222', STREAMGATE_SECRET: 'env-secret', STREAMGATE_LOG_LEVEL: 'warn' };
    const fromEnv = loadConfig({ file: path, env });
    expect(fromEnv.ok && fromEnv.config.listen.port).toBe(2222);
    expect(fromEnv.ok && fromEnv.config.zones[0]?.keys).toEqual(['env-secret']);
    const fromFlags = loadConfig({
      file: path,
      env,
      flags: { port: 3333, secrets: ['flag-secret'], tokens: 'forward' },
    });
    expect(fromFlags.ok && fromFlags.config.listen.port).toBe(3333);
    expect(fromFlags.ok && fromFlags.config.log.level).toBe('warn');
    expect(fromFlags.ok && fromFlags.config.zones[0]?.keys).toEqual(['flag-secret']);
    expect(fromFlags.ok && fromFlags.config.zones[0]?.tokens).toBe('forward');
  });

  it('YAML syntax errors and duplicate keys are reported with their line', () => {
    const result = loadConfig({ file: file('dup.yaml', 'listen: {port: 1}\nlisten: {port: 2}\n'), env: {} });
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.problems.join('\n')).toMatch(/dup\.yaml: .*(unique|duplicate)/i);
  });
});

describe('streamgate serve flags (README, "Running the gateway")', () => {
  it('bad flags → a clear message and exit 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['serve', '--port', 'x'], /--port must be a port number/],
      [['serve', '--scheme', 'fastly'], /--scheme must be one of keycdn, gcore, ectoken, akamai/],
      [['serve', '--tokens', 'all'], /--tokens must be one of forward, mint, path/],
      [['serve', '--playlist-ttl', '0'], /--playlist-ttl must be a whole number of seconds/],
      [['serve', '--bogus'], /Unknown option '--bogus'/],
      [['serve', 'extra'], /no positional arguments/],
    ];
    for (const [argv, pattern] of cases) {
      const out = io();
      expect(await main(argv, out), argv.join(' ')).toBe(2);
      expect(out.errors.join('\n')).toMatch(pattern);
    }
  });

  it('a config problem from flags is reported with every other one, exit 2', async () => {
    const out = io();
    const code = await main(['serve', '--origin', 'not a url', '--scheme', 'keycdn', '--bind-ip'], out);
    expect(code).toBe(2);
    const text = out.errors.join('\n');
    expect(text).toContain('invalid configuration (3 problems)');
    expect(text).toContain('zones[0].origin: must be an http(s) URL without path or query');
    expect(text).toContain('zones[0]: needs its keys');
    expect(text).toContain('zones[0].bindIp: the keycdn scheme cannot bind tokens');
  });

  it('--check validates and prints a summary without keys', async () => {
    const out = io({ STREAMGATE_SECRET: 'super-secret-key' });
    const code = await main(['serve', '--origin', 'http://127.0.0.1:9', '--scheme', 'gcore', '--check'], out);
    expect(code).toBe(0);
    expect(out.lines[0]).toBe('configuration ok');
    expect(out.lines.join('\n')).toContain(
      'zone default: */ → http://127.0.0.1:9 (gcore, 1 key, tokens mint',
    );
    expect(out.lines.join('\n')).not.toContain('super-secret-key');
  });

  it('the flags make a one-zone gateway that serves, logs its URL, and stops on request', async () => {
    const origin = await TestOrigin.start();
    origin.file('/videos/video-1/seg-1.ts', { body: 'hello' });
    const logs: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _e, cb) {
        logs.push(chunk.toString());
        cb();
      },
    });
    const parsed = serveConfig(
      ['--origin', origin.url, '--scheme', 'gcore', '--secret', SECRET, '--port', '0', '--log-level', 'info'],
      io(),
    );
    if ('help' in parsed) throw new Error('unexpected help');
    const running = await startServe(parsed.config, {
      signals: false,
      logDestination: destination as unknown as NodeJS.WritableStream & { write(msg: string): void },
    });
    try {
      const res = await request(`${running.listening.url}${signed('/videos/video-1/seg-1.ts')}`);
      expect(await res.body.text()).toBe('hello');
      const listening = logs.map((l) => JSON.parse(l) as { msg: string; url?: string }).find((l) => l.url);
      expect(listening?.msg).toBe(`listening on ${running.listening.url}`);
      expect(logs.join('')).not.toContain(SECRET);
    } finally {
      await running.stop();
      expect(await running.done).toBe(0);
      await origin.close();
    }
  });
});
