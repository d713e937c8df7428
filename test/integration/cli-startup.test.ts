import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_HELP } from '../../src/demo/command.js';

// Start-up failures through the real command: each must end the process within seconds with one line on
// stderr naming the problem and the fix — never a stack trace, never a hang — exit status 1 when the
// machine refuses (a port in use), 2 for the configuration and the command line.

const cli = new URL('../../bin/streamgate.js', import.meta.url).pathname;
const ZONE = ['--origin', 'http://127.0.0.1:9', '--scheme', 'gcore', '--secret', 'k'];
/** Generous for a loaded two-core machine; a hang would run into it and fail. */
const LIMIT_MS = 15_000;

interface Outcome {
  readonly code: number | null;
  readonly stderr: string;
  readonly stdout: string;
  readonly ms: number;
}

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Outcome> {
  const started = Date.now();
  const child = spawn('node', [cli, ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), LIMIT_MS);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stderr, stdout, ms: Date.now() - started });
    });
  });
}

/** One line on stderr, no stack frame anywhere, and the process ended by itself. */
function expectOneLine(outcome: Outcome, prefix: string): string {
  expect(outcome.ms, 'the process ended by itself').toBeLessThan(LIMIT_MS);
  const lines = outcome.stderr.split('\n').filter((line) => line !== '');
  expect(lines, outcome.stderr).toHaveLength(1);
  expect(`${outcome.stderr}${outcome.stdout}`).not.toMatch(/\n\s+at .+[:(]/);
  expect(outcome.stdout).not.toContain('"stack"');
  expect(lines[0]).toMatch(new RegExp(`^${prefix}`));
  return lines[0] ?? '';
}

let blocker: Server;
let busy = 0;
let dir = '';

beforeAll(async () => {
  blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  busy = (blocker.address() as AddressInfo).port;
  dir = mkdtempSync(join(tmpdir(), 'streamgate-startup-'));
});
afterAll(() => {
  blocker.close();
});

describe('a port in use: one line naming the port and the flag that changes it, exit 1', () => {
  it('serve, its admin port, serve --workers 2 and its admin port, the demo page and the demo gateway', async () => {
    const [serve, admin, workers, workersAdmin, page, gateway] = await Promise.all([
      run(['serve', ...ZONE, '--port', String(busy)]),
      run(['serve', ...ZONE, '--port', '0', '--admin-port', String(busy)]),
      run(['serve', ...ZONE, '--workers', '2', '--port', String(busy)]),
      run(['serve', ...ZONE, '--workers', '2', '--port', '0', '--admin-port', String(busy)]),
      run(['demo', '--port', String(busy), '--gateway-port', '0']),
      run(['demo', '--port', '0', '--gateway-port', String(busy)]),
    ]);
    const where = `127\\.0\\.0\\.1:${busy}`;
    for (const [outcome, command, flag] of [
      [serve, 'serve', '--port N'],
      [admin, 'serve', '--admin-port N'],
      [workers, 'serve', '--port N'],
      [workersAdmin, 'serve', '--admin-port N'],
      [page, 'demo', '--port N'],
      [gateway, 'demo', '--gateway-port N'],
    ] as const) {
      const line = expectOneLine(outcome, `streamgate ${command}: `);
      expect(line).toMatch(new RegExp(`cannot listen on ${where}: the port is already in use`));
      expect(line).toContain(`choose another port with ${flag}`);
      expect(outcome.code, line).toBe(1);
    }
    // Nothing served before the failure: the single process never announced its media port.
    expect(admin.stdout).not.toContain('listening on');
  }, 60_000);
});

describe('configuration that cannot be read: one line naming the file and the fix, exit 2', () => {
  it('a missing --secret-file, a missing secretFile in the config file, a missing or unreadable config', async () => {
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      'zones:\n  - name: live\n    origin: http://127.0.0.1:9\n    scheme: gcore\n    secretFile: keys/live.txt\n',
    );
    const [flagFile, zoneFile, noConfig, directory] = await Promise.all([
      run([
        'serve',
        '--origin',
        'http://127.0.0.1:9',
        '--scheme',
        'gcore',
        '--secret-file',
        join(dir, 'no.txt'),
      ]),
      run(['serve', '--config', config]),
      run(['serve', '--config', join(dir, 'missing.yaml')]),
      run(['serve', '--config', dir]),
    ]);
    expect(expectOneLine(flagFile, 'streamgate serve: invalid configuration: ')).toContain(
      `--secret-file: cannot read ${join(dir, 'no.txt')} (no such file; check the path)`,
    );
    expect(expectOneLine(zoneFile, 'streamgate serve: invalid configuration: ')).toContain(
      `zones[0].secretFile: cannot read ${join(dir, 'keys/live.txt')} (no such file; check the path)`,
    );
    expect(expectOneLine(noConfig, 'streamgate serve: invalid configuration: ')).toContain(
      `${join(dir, 'missing.yaml')}: cannot read the configuration file (no such file; check the path)`,
    );
    expect(expectOneLine(directory, 'streamgate serve: invalid configuration: ')).toContain(
      'cannot read the configuration file (a directory; give the file)',
    );
    for (const outcome of [flagFile, zoneFile, noConfig, directory]) expect(outcome.code).toBe(2);
  }, 60_000);
});

describe('--version and demo --help', () => {
  it('--version prints the version package.json holds, exit 0', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    const outcome = await run(['--version']);
    expect(outcome.code).toBe(0);
    expect(outcome.stdout).toBe(`${version}\n`);
  });

  it('demo --help lists every flag the demo takes, with every scheme and strategy, and only those', async () => {
    const listed = new Set(DEMO_HELP.match(/--[a-z][a-z-]*/g));
    expect(listed).toEqual(new Set(['--host', '--port', '--gateway-port', '--scheme', '--tokens']));
    expect(DEMO_HELP).toMatch(/--scheme S .*gcore.*keycdn.*ectoken/s);
    expect(DEMO_HELP).toMatch(/--tokens S .*mint.*forward/s);
    // The parser takes all of them (it refuses unknown flags before --help is looked at)…
    const every = await run([
      'demo',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--gateway-port',
      '0',
      '--scheme',
      'ectoken',
      '--tokens',
      'forward',
      '--help',
    ]);
    expect(every.code).toBe(0);
    expect(every.stdout.trim()).toBe(DEMO_HELP);
    // …and refuses one the help does not list.
    const unknown = await run(['demo', '--secret', 'k']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--secret'");
  });
});
