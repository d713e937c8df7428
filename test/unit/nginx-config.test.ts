/**
 * `streamgate nginx-config`: what the generator refuses (every problem at once, with the fix), and that
 * what it writes is a configuration Debian's nginx accepts (`nginx -t`) for every shape of zone list.
 * How the front then behaves is test/integration/nginx-front.test.ts.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { configOrThrow, type ConfigInput } from '../../src/config/index.js';
import { nginxConfig, type NginxFrontOptions } from '../../src/nginx/config.js';
import { NGINX_HINT, nginxStatus, nginxTest } from '../helpers/nginx.js';
import { captureIo } from '../helpers/cli-io.js';

const status = nginxStatus();
const scratch = mkdtempSync(join(tmpdir(), 'sg-nginx-conf-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const front: NginxFrontOptions = {
  listen: { host: '127.0.0.1', port: 8088 },
  gateways: ['http://127.0.0.1:8080', 'http://127.0.0.1:8081'],
  prefix: scratch,
};

const everything: ConfigInput = {
  trustedProxies: ['127.0.0.1', '10.0.0.0/8', '2001:db8::/32'],
  cors: { allowedOrigins: ['https://player.example.com', 'https://www.example.com'] },
  geo: { header: 'cf-ipcountry' },
  zones: [
    {
      name: 'live',
      pathPrefix: '/live',
      origin: 'http://127.0.0.1:8081',
      scheme: 'gcore',
      secrets: ['a', 'b$c'],
      bindIp: true,
    },
    {
      name: 'Live',
      pathPrefix: '/Live',
      origin: 'https://127.0.0.1:8443',
      scheme: 'keycdn',
      secrets: ['k"\\;{}'],
    },
    {
      name: 'vod',
      pathPrefix: '/vod',
      host: 'media.example.com',
      origin: 'http://10.0.0.5:8080',
      scheme: 'gcore',
      secrets: ['v'],
      forwardHeaders: ['cookie', 'x-tenant'],
      denial: {
        status: { invalid: 401, missing: 451 },
        redirect: 'https://pay.example.com/?a=1&b=$2',
        redirectOn: ['expired'],
        redirectStatus: 307,
      },
    },
    {
      name: 'azure',
      pathPrefix: '/',
      origin: 'http://10.0.0.6',
      scheme: 'ectoken',
      secrets: ['AzureKey123'],
      ectoken: { param: 'tok' },
    },
  ],
};

describe('nginx-config refuses what nginx could not run, every problem at once', () => {
  it('lists each problem with its fix', () => {
    const config = configOrThrow({
      zones: [
        {
          name: 'a',
          origin: 'http://127.0.0.1:1',
          scheme: 'gcore',
          secrets: ['line\tbreak'],
          pathPrefix: '/a',
        },
        {
          name: 'b',
          origin: 'http://127.0.0.1:1',
          scheme: 'keycdn',
          secrets: ['k'],
          pathPrefix: '/b',
          denial: { status: { invalid: 444 } },
        },
        { name: 'c', origin: 'http://127.0.0.1:1', scheme: 'ectoken', secrets: ['abc123'], pathPrefix: '/c' },
      ],
    });
    const result = nginxConfig(config, {
      listen: { host: '127.0.0.1', port: 0 },
      gateways: ['ftp://x', 'http://127.0.0.1:8080/path'],
      prefix: 'relative/dir',
    });
    expect(result.ok).toBe(false);
    const problems = result.ok ? [] : result.problems;
    expect(problems).toEqual([
      '--prefix must be an absolute directory, got "relative/dir"',
      '--listen needs a port 1–65535, got 0',
      '--gateway must be an http URL without path, e.g. http://127.0.0.1:8080, got "ftp://x"',
      '--gateway must be an http URL without path, e.g. http://127.0.0.1:8080, got "http://127.0.0.1:8080/path"',
      'zones[0] (a): a key holds a control character, which nginx.conf cannot carry',
      'zones[1] (b): denial status 444 makes nginx close the connection without an answer; pick another',
      "zones c are checked through /_streamgate/auth, which answers only trusted proxies: add the front's address to trustedProxies (e.g. 127.0.0.1)",
    ]);
  });

  it('refuses a prefix too long for the check socket, and no gateway', () => {
    const config = configOrThrow({
      zones: [{ name: 'a', origin: 'http://127.0.0.1:1', scheme: 'gcore', secrets: ['k'] }],
    });
    const result = nginxConfig(config, { ...front, gateways: [], prefix: `/${'d'.repeat(100)}` });
    expect(result.ok ? [] : result.problems).toEqual([
      `--prefix is too long for a unix socket path (/${'d'.repeat(100)}/check.sock)`,
      '--gateway URL is required (repeat it for each instance)',
    ]);
  });

  it('warns when the gateways do not trust the front', () => {
    const config = configOrThrow({
      zones: [{ name: 'a', origin: 'http://127.0.0.1:1', scheme: 'gcore', secrets: ['k'] }],
    });
    const result = nginxConfig(config, front);
    expect(result.ok && result.warnings).toEqual([
      "trustedProxies is empty: the gateways will take the front's address for the viewer's (IP-bound tokens, logs); add the front's address to trustedProxies",
    ]);
  });

  it('sends the segments of a Gcore zone with a policy to the gateways, and says so', () => {
    const zone = { origin: 'http://127.0.0.1:1', scheme: 'gcore' as const, secrets: ['k'] };
    const zones = [
      { ...zone, name: 'open', pathPrefix: '/open' },
      { ...zone, name: 'guarded', pathPrefix: '/guarded', policy: { refererAllow: ['example.com'] } },
    ];
    const config = configOrThrow({ trustedProxies: ['127.0.0.1'], zones });
    const result = nginxConfig(config, front);
    expect(result.ok && result.warnings).toEqual([
      "zone guarded has a policy: the gateways check its segments too (/_streamgate/auth), so the policy holds for every request; for nginx's own check, drop the policy and use nginx's allow/deny, geo and valid_referers in the front",
    ]);
    // z0 (open) is checked by nginx, z1 (guarded) is not.
    const native = /map \$sg_zone \$sg_native \{([^}]*)\}/.exec(result.ok ? result.text : '')?.[1] ?? '';
    expect(native).toMatch(/z0 1;/);
    expect(native).toMatch(/z1 0;/);
    // Without trusted proxies, the auth endpoint would refuse the front: a problem, not a warning.
    const untrusted = nginxConfig(configOrThrow({ zones }), front);
    expect(untrusted.ok ? [] : untrusted.problems).toEqual([
      "zones guarded are checked through /_streamgate/auth, which answers only trusted proxies: add the front's address to trustedProxies (e.g. 127.0.0.1)",
    ]);
  });
});

describe.skipIf(status === 'missing')('what nginx-config writes passes nginx -t', () => {
  it.each([
    [
      'one catch-all gcore zone',
      { zones: [{ name: 'a', origin: 'http://127.0.0.1:1', scheme: 'gcore', secrets: ['k'] }] },
      front,
    ],
    ['every kind of zone, CORS list, geo header, forwarded headers, denial settings', everything, front],
    ['an IPv6 listener', everything, { ...front, listen: { host: '::1', port: 8088 } }],
    [
      'zones refusing path tokens (pathTokens: false) beside one that takes them',
      {
        trustedProxies: ['127.0.0.1'],
        zones: [
          {
            name: 'd',
            pathPrefix: '/d',
            origin: 'http://127.0.0.1:1',
            scheme: 'gcore',
            secrets: ['k'],
            pathTokens: false,
          },
          { name: 'd1', pathPrefix: '/d/1', origin: 'http://127.0.0.1:1', scheme: 'keycdn', secrets: ['k'] },
          {
            name: 'e',
            pathPrefix: '/e',
            origin: 'http://127.0.0.1:1',
            scheme: 'ectoken',
            secrets: ['abc'],
            pathTokens: false,
          },
        ],
      },
      front,
    ],
    [
      'only an ectoken zone',
      {
        trustedProxies: ['127.0.0.1'],
        zones: [{ name: 'e', origin: 'http://127.0.0.1:1', scheme: 'ectoken', secrets: ['abc'] }],
      },
      front,
    ],
  ] as Array<[string, ConfigInput, NginxFrontOptions]>)('%s', (_name, input, options) => {
    if (status === 'missing-in-ci') throw new Error(`CI=true and nginx is missing: ${NGINX_HINT}`);
    const result = nginxConfig(configOrThrow(input), options);
    if (!result.ok) throw new Error(result.problems.join('\n'));
    const conf = join(scratch, 'nginx.conf');
    writeFileSync(conf, result.text);
    const test = nginxTest(scratch, conf);
    expect(test.output).toMatch(/test is successful/);
    expect(test.output).not.toMatch(/\[warn\]/);
    // Keys are in the file (it is the front's to check), written so nginx reads them as text.
    if (input === everything) {
      expect(result.text).toContain('"b${sg_dollar}c"');
      expect(result.text).toContain('"k\\"\\\\;{}"');
    }
  });
});

describe('streamgate nginx-config (the command)', () => {
  const capture = captureIo;

  it('reads the same flags as serve and prints the configuration', async () => {
    const io = capture();
    const code = await main(
      [
        'nginx-config',
        '--origin',
        'http://127.0.0.1:8081',
        '--scheme',
        'gcore',
        '--secret',
        'k1',
        '--secret',
        'k0',
        '--listen',
        '0.0.0.0:8088',
        '--gateway',
        'http://127.0.0.1:8080',
        '--prefix',
        scratch,
      ],
      io,
    );
    expect(code).toBe(0);
    const text = io.lines.join('\n');
    expect(text).toContain('listen 0.0.0.0:8088;');
    expect(text).toContain('server 127.0.0.1:8080 max_fails=1 fail_timeout=5s;');
    expect(text).toContain(`pid ${scratch}/nginx.pid;`);
    expect(text).toMatch(/"z0\|q\|3" "k0";/);
    expect(io.errors.join('\n')).toContain('warning: trustedProxies is empty');
  });

  it('writes --output with mode 600, since the file holds the keys', async () => {
    const io = capture();
    const file = join(scratch, 'out.conf');
    writeFileSync(file, 'old', { mode: 0o644 });
    const code = await main(
      [
        'nginx-config',
        '--origin',
        'http://127.0.0.1:8081',
        '--scheme',
        'keycdn',
        '--secret',
        's',
        '--listen',
        '127.0.0.1:8088',
        '--gateway',
        'http://127.0.0.1:8080',
        '--prefix',
        scratch,
        '--output',
        file,
      ],
      io,
    );
    expect(code).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toContain('secure_link_md5 $sg_md5_input;');
  });

  it.each([
    [
      [
        '--origin',
        'http://127.0.0.1:1',
        '--scheme',
        'gcore',
        '--secret',
        's',
        '--gateway',
        'http://127.0.0.1:8080',
        '--prefix',
        '/tmp/x',
      ],
      '--listen HOST:PORT is required',
    ],
    [
      [
        '--origin',
        'http://127.0.0.1:1',
        '--scheme',
        'gcore',
        '--secret',
        's',
        '--listen',
        'nope',
        '--gateway',
        'http://127.0.0.1:8080',
        '--prefix',
        '/tmp/x',
      ],
      '--listen must be HOST:PORT',
    ],
    [
      [
        '--origin',
        'http://127.0.0.1:1',
        '--scheme',
        'gcore',
        '--secret',
        's',
        '--listen',
        ':8088',
        '--gateway',
        'http://127.0.0.1:8080',
      ],
      '--listen must be HOST:PORT',
    ],
    [
      [
        '--origin',
        'http://127.0.0.1:1',
        '--scheme',
        'gcore',
        '--secret',
        's',
        '--listen',
        '127.0.0.1:8088',
        '--gateway',
        'http://127.0.0.1:8080',
      ],
      '--prefix DIR is required',
    ],
    [
      [
        '--origin',
        'http://127.0.0.1:1',
        '--scheme',
        'gcore',
        '--secret',
        's',
        '--listen',
        '127.0.0.1:8088',
        '--prefix',
        '/tmp/x',
      ],
      '--gateway URL is required',
    ],
    [
      [
        '--scheme',
        'gcore',
        '--listen',
        '127.0.0.1:8088',
        '--gateway',
        'http://127.0.0.1:8080',
        '--prefix',
        '/tmp/x',
      ],
      'invalid configuration',
    ],
    [
      [
        '--origin',
        'http://127.0.0.1:1',
        '--scheme',
        'gcore',
        '--secret',
        's',
        '--listen',
        '127.0.0.1:8088',
        '--gateway',
        'http://127.0.0.1:8080',
        '--prefix',
        '/tmp/x',
        '--worker-processes',
        '0',
      ],
      '--worker-processes must be',
    ],
  ])('exits 2 with a clear message: %j', async (args, message) => {
    const io = capture();
    expect(await main(['nginx-config', ...args], io)).toBe(2);
    expect(io.errors.join('\n')).toContain(message);
    expect(io.lines).toEqual([]);
  });
});
