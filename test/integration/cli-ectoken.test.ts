import { spawnSync } from 'node:child_process';
import { createDecipheriv, createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { encryptEctoken } from '../../src/index.js';
import { captureIo } from '../helpers/cli-io.js';

// ectoken: the Azure portal's "encrypt tool" and "decrypt tool" on the command line, and verify with the request
// facts an ectoken's rules are checked against. Every spawn costs about a second, so the process is run
// only where the exit status or the real argv matters; the rest goes through main() in-process.

const cli = new URL('../../bin/streamgate.js', import.meta.url).pathname;
const run = (...args: string[]) =>
  spawnSync('node', [cli, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH } });

const io = captureIo;

const KEY = 'Primary1';
const NOW = 1_000_000_000;
const EXP = 2_000_000_000;

/** The format as Edgecast documents it, written here with node:crypto alone. */
function independentDecrypt(token: string, key: string): string {
  const bytes = Buffer.from(token, 'base64url');
  const aesKey = createHash('sha256').update(key, 'utf8').digest();
  const decipher = createDecipheriv('aes-256-gcm', aesKey, bytes.subarray(0, 12));
  decipher.setAuthTag(bytes.subarray(bytes.length - 16));
  return Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]).toString(
    'utf8',
  );
}

const tokenOf = (url: string, param = 'token'): string =>
  new URLSearchParams(url.slice(url.indexOf('?') + 1)).get(param) ?? '';

describe('ectoken: sign → decrypt → verify through the real CLI', () => {
  // One signed URL serves every verify below: a directory token for /videos/v1/ with four rules.
  let signed = '';

  it('sign --scheme ectoken prints PATH?token=… whose parameters are exactly the flags given', () => {
    const result = run(
      'sign',
      '/videos/v1/master.m3u8',
      '--scheme',
      'ectoken',
      '--secret',
      KEY,
      '--expires',
      String(EXP),
      '--dir',
      '--country-allow',
      'us, CA',
      '--ref-allow',
      'www.example.com,missing',
      '--proto-allow',
      'https',
      '--client-ip',
      '10.0.0.0/8',
    );
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    signed = result.stdout.trim();
    expect(signed).toMatch(/^\/videos\/v1\/master\.m3u8\?token=[A-Za-z0-9_-]+$/);
    // ec_url_allow is the signed directory (--dir); countries upper-cased; order as EC-JS writes them.
    const expected =
      'ec_expire=2000000000&ec_country_allow=US,CA&ec_url_allow=/videos/v1/' +
      '&ec_ref_allow=www.example.com,missing&ec_clientip=10.0.0.0/8&ec_proto_allow=https';
    expect(independentDecrypt(tokenOf(signed), KEY)).toBe(expected);

    const decrypted = run('decrypt', tokenOf(signed), '--secret', KEY);
    expect(decrypted.status).toBe(0);
    expect(decrypted.stdout).toBe(`${expected}\n`);
  });

  const base = ['--scheme', 'ectoken', '--secret', KEY, '--now', String(NOW), '--json'];
  const facts = ['--ip', '10.1.2.3', '--country', 'us'];
  const verify = (url: string, ...args: string[]) => {
    const result = run('verify', url, ...base, ...args);
    return { status: result.status, out: JSON.parse(result.stdout || '{}') as Record<string, unknown> };
  };

  it('verify: a request the rules allow is valid, with scope prefix, its prefixes and the expiry', () => {
    // Absolute URL: proto (https) and host come from it; no referrer is allowed by "missing".
    const url = `https://cdn.example.com${signed.replace('master.m3u8', '360p/seg-1.ts')}`;
    expect(verify(url, ...facts)).toEqual({
      status: 0,
      out: {
        verdict: 'valid',
        status: 200,
        reason: 'ok',
        scope: 'prefix',
        signedPath: '/videos/v1/',
        prefixes: ['/videos/v1/'],
        path: '/videos/v1/360p/seg-1.ts',
        expires: EXP,
        ttl: EXP - NOW,
      },
    });
  });

  it('verify: a path outside ec_url_allow is 403 invalid', () => {
    const url = `https://cdn.example.com${signed.replace('/v1/', '/v2/')}`;
    expect(verify(url, ...facts)).toMatchObject({ status: 1, out: { verdict: 'invalid', status: 403 } });
  });

  it('verify --now at ec_expire is 410 expired', () => {
    const result = run('verify', `https://cdn.example.com${signed}`, ...base, ...facts, '--now', String(EXP));
    expect(result.status).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ verdict: 'expired', status: 410, reason: 'expired' });
  });

  it('verify: a country outside ec_country_allow is 403, reason rule', () => {
    expect(verify(`https://cdn.example.com${signed}`, '--ip', '10.1.2.3', '--country', 'FR')).toEqual({
      status: 1,
      out: { verdict: 'invalid', status: 403, reason: 'rule', detail: 'country FR not allowed' },
    });
  });

  it('verify: plain http (taken from the URL) against ec_proto_allow=https is 403', () => {
    expect(verify(`http://cdn.example.com${signed}`, ...facts)).toMatchObject({
      status: 1,
      out: { status: 403, reason: 'rule', detail: 'protocol http not allowed' },
    });
  });

  it('verify: ec_ref_allow without "missing" refuses a request with no referrer; --param renames it', async () => {
    const tokenised = run(
      'sign',
      '/a/b.ts',
      '--scheme',
      'ectoken',
      '--secret',
      KEY,
      '--expires',
      String(EXP),
      '--ref-allow',
      '*.example.com',
      '--param',
      'tk',
    ).stdout.trim();
    expect(tokenised).toMatch(/^\/a\/b\.ts\?tk=[A-Za-z0-9_-]+$/);
    expect(verify(tokenised, '--param', 'tk')).toEqual({
      status: 1,
      out: { verdict: 'invalid', status: 403, reason: 'rule', detail: 'referrer missing' },
    });
    // The same token in-process, with a subdomain referrer, opens.
    const out = io();
    const status = await main(
      ['verify', tokenised, ...base, '--param', 'tk', '--referer', 'https://www.example.com/page'],
      out,
    );
    expect(status).toBe(0);
    expect(JSON.parse(out.lines[0] ?? '')).toMatchObject({ verdict: 'valid', signedPath: '/a/b.ts' });
  });
});

describe("ectoken: the reference projects' published vectors through `streamgate decrypt`", () => {
  it('Edgio/ectoken (C) README: MY_SECRET_KEY opens fVSY… to MY_COOL_TOKEN', () => {
    const result = run(
      'decrypt',
      'fVSYBBTynMkvQECGV-Kdfp333R-MGY2fsrrpVyuqd7OiuAUsQ8ITrL0',
      '--secret',
      'MY_SECRET_KEY',
    );
    expect([result.status, result.stdout, result.stderr]).toEqual([0, 'MY_COOL_TOKEN\n', '']);
  });

  it('ectoken3.py README: MY_SECRET_KEY opens 26oB… to MY_COOL_TOKEN (--json)', () => {
    const result = run(
      'decrypt',
      '26oBaqCbdLyJD5RjsHBYGsIDQGOehPo2rZfGwGey-ubhciakzPwRIdQ',
      '--secret',
      'MY_SECRET_KEY',
      '--json',
    );
    expect([result.status, result.stdout]).toEqual([0, '{"params":"MY_COOL_TOKEN"}\n']);
  });

  it('EC-JS tests: my-secret-key, given as the backup key after a wrong one, opens WWNO…', () => {
    const result = run(
      'decrypt',
      'WWNONztpLdGM11awAYiFRuIIiIG1LOBQaO2cEtCXjT5PelAA-Tavv7eD9YtSeGM13uQsobIkL0xYf6DZLzM6iMbe',
      '--secret',
      'wrongkey',
      '--secret',
      'my-secret-key',
    );
    expect([result.status, result.stdout]).toEqual([0, 'ec_expire=12345678&ec_clientip=1.2.3.4\n']);
  });

  it('a wrong key: exit 1, one line on stderr, nothing on stdout', () => {
    const result = run(
      'decrypt',
      'fVSYBBTynMkvQECGV-Kdfp333R-MGY2fsrrpVyuqd7OiuAUsQ8ITrL0',
      '--secret',
      'OTHER_KEY',
    );
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('streamgate decrypt: cannot decrypt (invalid): no key decrypts the token\n');
  });

  it('a v2 (Blowfish, hex) token from the v2 README: exit 1 naming v2', () => {
    const result = run(
      'decrypt',
      'af0c6acf7906cd500aee63a4dd2e97ddcb0142601cf83aa9d622289718c4c85413',
      '--secret',
      'testkey123',
    );
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^streamgate decrypt: cannot decrypt \(unsupported\): ectoken v2 .*\n$/);
  });

  it('bad flags exit 2: a rule flag with a scheme that has no rules', () => {
    const result = run(
      'sign',
      '/a.ts',
      '--scheme',
      'gcore',
      '--secret',
      'k',
      '--ttl',
      '60',
      '--ref-allow',
      'x.com',
    );
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(
      /--ref-allow: for --scheme ectoken only; gcore tokens carry no access rules/,
    );
  });
});

describe('ectoken: CLI usage errors and output forms (in-process, same code as the binary)', () => {
  const call = async (...argv: string[]) => {
    const out = io();
    const status = await main(argv, out);
    return { status, out: out.lines.join('\n'), err: out.errors.join('\n') };
  };
  const sign = ['sign', '/a/b.ts', '--scheme', 'ectoken', '--secret', KEY, '--expires', String(EXP)];

  it.each([
    [[...sign, '--path-token'], /ectoken tokens do not travel in the path/],
    [[...sign, '--ip', '1.2.3.4', '--client-ip', '1.2.3.4'], /--ip and --client-ip both set ec_clientip/],
    [[...sign, '--dir', '--url-allow', '/a/'], /--url-allow names what the token opens; drop --dir/],
    [[...sign, '--proto-allow', 'ftp'], /ec_proto_allow: "ftp" is not valid \(expected http or https\)/],
    [[...sign, '--country-deny', 'USA'], /ec_country_deny: "USA" is not valid/],
    [[...sign, '--url-allow', 'a/'], /ec_url_allow: "a\/" is not valid/],
    [[...sign, '--client-ip', '10.0.0.0/33'], /ec_clientip: prefix length "33"/],
    [[...sign, '--param', 'a b'], /--param must be a query parameter name/],
    [
      ['sign', '/a.ts', '--scheme', 'ectoken', '--secret', 'my-key', '--ttl', '60'],
      /1–250 letters and digits/,
    ],
    [['sign', '/a.ts', '--scheme', 'keycdn', '--secret', 'k', '--ttl', '60', '--param', 't'], /--param: for/],
    [['verify', '/a.ts', '--scheme', 'gcore', '--secret', 'k', '--country', 'US'], /--country: for --scheme/],
    [['verify', '/a.ts', '--scheme', 'ectoken', '--secret', 'k', '--country', 'USA'], /two-letter ISO 3166/],
    [['verify', '/a.ts', '--scheme', 'ectoken', '--secret', 'k', '--proto', 'ftp'], /--proto must be http/],
    [
      ['verify', '/a.ts', '--scheme', 'ectoken', '--secret', 'k', '--ip', '10.0.0.0/8'],
      /--ip must be an IPv4/,
    ],
    [['decrypt', '--secret', 'k'], /decrypt takes exactly one TOKEN/],
    [['decrypt', 'abc'], /a secret is required/],
    [['decrypt', 'abc', '--secret', 'k', '--scheme', 'ectoken'], /Unknown option '--scheme'/],
  ])('%j exits 2', async (argv, message) => {
    const result = await call(...(argv as string[]));
    expect(result.status).toBe(2);
    expect(result.out).toBe('');
    expect(result.err).toMatch(message);
  });

  it('--ip for ectoken is ec_clientip, as --client-ip is', async () => {
    const viaIp = await call(...sign, '--ip', '2001:0DB8::1');
    expect(independentDecrypt(tokenOf(viaIp.out), KEY)).toBe(
      'ec_expire=2000000000&ec_url_allow=/a/b.ts&ec_clientip=2001:db8::1',
    );
  });

  it('--url-allow replaces the signed path as ec_url_allow', async () => {
    const result = await call(...sign, '--url-allow', '/a/,/shared/', '--host-deny', 'bad.example.com');
    expect(independentDecrypt(tokenOf(result.out), KEY)).toBe(
      'ec_expire=2000000000&ec_url_allow=/a/,/shared/&ec_host_deny=bad.example.com',
    );
  });

  it('verify prints "expires never" (plain) and null (JSON) for a token without ec_expire', async () => {
    const url = `/pub/x.ts?token=${encryptEctoken('ec_url_allow=/pub/,/more/', 'any-key-text')}`;
    const args = ['verify', url, '--scheme', 'ectoken', '--secret', 'any-key-text', '--now', String(NOW)];
    const plain = await call(...args);
    expect(plain).toEqual({
      status: 0,
      out: 'valid: prefix token for /pub/, /more/, expires never',
      err: '',
    });
    const json = await call(...args, '--json');
    expect(JSON.parse(json.out)).toEqual({
      verdict: 'valid',
      status: 200,
      reason: 'ok',
      scope: 'prefix',
      signedPath: '/pub/',
      prefixes: ['/pub/', '/more/'],
      path: '/pub/x.ts',
      expires: null,
      ttl: null,
    });
  });

  it('verify --ignore-url-case opens /PUB/ with an ec_url_allow of /pub/; without it, 403', async () => {
    const url = `/PUB/x.ts?token=${encryptEctoken('ec_url_allow=/pub/', KEY)}`;
    const args = ['verify', url, '--scheme', 'ectoken', '--secret', KEY];
    expect((await call(...args)).out).toBe('denied: 403 invalid (ec_url_allow does not cover this path)');
    expect((await call(...args, '--ignore-url-case')).status).toBe(0);
  });

  it('verify names the denial reason of a v2 token and maps it to invalid', async () => {
    const url = '/a.ts?token=af0c6acf7906cd500aee63a4dd2e97ddcb0142601cf83aa9d622289718c4c85413';
    const result = await call('verify', url, '--scheme', 'ectoken', '--secret', 'testkey123', '--json');
    expect(JSON.parse(result.out)).toEqual({
      verdict: 'invalid',
      status: 403,
      reason: 'unsupported',
      detail: 'ectoken v2 (Blowfish, hex) is not accepted',
    });
  });

  it('verify --host is checked against ec_host_allow, and defaults to the URL host', async () => {
    const token = encryptEctoken('ec_host_allow=*.example.com', KEY);
    const args = ['--scheme', 'ectoken', '--secret', KEY];
    expect((await call('verify', `https://cdn.example.com/x.ts?token=${token}`, ...args)).status).toBe(0);
    expect((await call('verify', `https://cdn.example.org/x.ts?token=${token}`, ...args)).status).toBe(1);
    expect((await call('verify', `/x.ts?token=${token}`, ...args, '--host', 'a.example.com')).status).toBe(0);
    expect((await call('verify', `/x.ts?token=${token}`, ...args)).status).toBe(1);
  });

  it('decrypt --json with the backup key from --secret', async () => {
    const token = encryptEctoken('ec_expire=5&x=1', 'backup');
    expect(await call('decrypt', token, '--secret', 'primary', '--secret', 'backup', '--json')).toEqual({
      status: 0,
      out: '{"params":"ec_expire=5&x=1"}',
      err: '',
    });
  });

  it('decrypt takes a token that starts with "-" (one base64url token in 64 does), before or after its flags', async () => {
    let token = '';
    while (!token.startsWith('-')) token = encryptEctoken('ec_expire=5', 'key1');
    expect(await call('decrypt', token, '--secret', 'key1')).toEqual({
      status: 0,
      out: 'ec_expire=5',
      err: '',
    });
    expect(await call('decrypt', '--secret', 'key1', token)).toEqual({
      status: 0,
      out: 'ec_expire=5',
      err: '',
    });
    expect(await call('decrypt', '--secret', 'key1', '--', token)).toEqual({
      status: 0,
      out: 'ec_expire=5',
      err: '',
    });
  });

  it('streamgate --help lists decrypt', async () => {
    expect((await call('--help')).out).toMatch(/^ {2}decrypt {3}print the parameters inside an ectoken/m);
  });
});
