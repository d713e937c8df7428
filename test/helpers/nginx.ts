/**
 * Debian's nginx, started unprivileged by a test under a temporary prefix on a free port, with a
 * configuration that `streamgate nginx-config` wrote, and stopped by it. Without nginx the tests are
 * skipped on a developer's machine (with the install command) and fail in CI, like the browser tests.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../src/config/index.js';
import { nginxConfig, type NginxFrontOptions } from '../../src/nginx/config.js';

export const NGINX_PATH = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((path) => existsSync(path));
export const NGINX_HINT = 'install it with: sudo apt-get update && sudo apt-get install -y nginx';

export function nginxStatus(): 'available' | 'missing-in-ci' | 'missing' {
  if (NGINX_PATH !== undefined) return 'available';
  return process.env.CI ? 'missing-in-ci' : 'missing';
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export interface RunningNginx {
  readonly url: string;
  readonly port: number;
  readonly prefix: string;
  readonly conf: string;
  /** The front's access log lines so far, parsed (JSON, one per request). */
  accessLog(): Array<Record<string, string | number>>;
  errorLog(): string;
  stop(): Promise<void>;
}

/** `nginx -t` on a configuration file: the exit status and what nginx said. */
export function nginxTest(prefix: string, conf: string): { ok: boolean; output: string } {
  const run = spawnSync(NGINX_PATH ?? 'nginx', ['-t', '-p', prefix, '-c', conf], { encoding: 'utf8' });
  return { ok: run.status === 0, output: `${run.stdout}${run.stderr}` };
}

async function listening(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host, () => {
      socket.end();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Writes the front's configuration for `config` and starts nginx in the foreground (`daemon off`), so
 * the test owns the process. `front` takes everything but the prefix and port, which are picked here.
 */
export async function startNginxFront(
  config: Config,
  front: Omit<NginxFrontOptions, 'prefix' | 'listen'> & { readonly host?: string },
): Promise<RunningNginx> {
  if (NGINX_PATH === undefined) throw new Error(`nginx is not installed: ${NGINX_HINT}`);
  const prefix = mkdtempSync(join(tmpdir(), 'sg-nginx-'));
  // Started as root (CI), nginx runs its workers as nobody, who must enter the prefix to use the cache.
  chmodSync(prefix, 0o755);
  const host = front.host ?? '127.0.0.1';
  const port = await freePort(host);
  const result = nginxConfig(config, { workerProcesses: 1, ...front, prefix, listen: { host, port } });
  if (!result.ok) throw new Error(`nginx-config refused: ${result.problems.join('; ')}`);
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(conf, result.text, { mode: 0o600 });
  const test = nginxTest(prefix, conf);
  if (!test.ok) throw new Error(`nginx -t failed:\n${test.output}`);
  const child: ChildProcess = spawn(NGINX_PATH, ['-p', prefix, '-c', conf, '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const shown = host.includes(':') ? `[${host}]` : host;
  for (let i = 0; ; i += 1) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${stderr}`);
    if (await listening(port, host)) break;
    if (i > 100) throw new Error(`nginx did not listen on ${port}: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const read = (name: string) => {
    try {
      return readFileSync(join(prefix, name), 'utf8');
    } catch {
      return '';
    }
  };
  return {
    url: `http://${shown}:${port}`,
    port,
    prefix,
    conf,
    accessLog: () =>
      read('access.log')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, string | number>),
    errorLog: () => read('error.log'),
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGQUIT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await once(child, 'exit');
        clearTimeout(timer);
      }
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}
