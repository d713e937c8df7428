/**
 * `streamgate serve` as a child process through the real command (bin/streamgate.js, the built dist/),
 * with its JSON log lines collected as they come. Tests wait for a line — an event — never for a fixed
 * time: on a loaded machine a process may take seconds to get where a sleep assumed it would be.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { createInterface } from 'node:readline';

export const CLI = new URL('../../bin/streamgate.js', import.meta.url).pathname;

export interface LogLine {
  readonly level?: string;
  readonly msg?: string;
  readonly role?: string;
  readonly worker?: number;
  readonly pid?: number;
  readonly url?: string;
  readonly adminUrl?: string;
  readonly workers?: number;
  readonly status?: number;
  readonly reason?: string;
  readonly source?: string;
  readonly problems?: readonly string[];
  readonly settings?: readonly string[];
  readonly changes?: readonly string[];
}

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly lines: LogLine[];
  readonly stderr: () => string;
  /**
   * Resolves with the first log line at or after index `from` (already seen or still to come) that
   * passes the test; rejects when the process exits first or after `timeoutMs`, a limit for a hang only.
   */
  waitFor(
    test: (line: LogLine) => boolean,
    options?: { from?: number; timeoutMs?: number },
  ): Promise<LogLine>;
  /** The exit status, once the process has exited and its output is read to the end (every line is in). */
  readonly closed: Promise<number | null>;
  /** SIGKILL if still running, and wait for the exit. */
  kill(): Promise<void>;
}

export function startServeProcess(args: readonly string[], env: NodeJS.ProcessEnv = {}): ServeProcess {
  const child = spawn('node', [CLI, 'serve', ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  let exited = false;
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout! }).on('line', (text) => {
    try {
      lines.push(JSON.parse(text) as LogLine);
    } catch {
      return;
    }
    for (const wake of [...waiters]) wake();
  });
  const closed = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      exited = true;
      for (const wake of [...waiters]) wake();
      resolve(code);
    }),
  );
  const waitFor: ServeProcess['waitFor'] = (test, options = {}) =>
    new Promise((resolve, reject) => {
      const from = options.from ?? 0;
      const finish = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      const check = (): void => {
        const found = lines.slice(from).find(test);
        if (found !== undefined) {
          finish();
          resolve(found);
        } else if (exited) {
          finish();
          reject(new Error(`serve exited before the log line came; stderr: ${stderr.slice(0, 800)}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(
          new Error(
            `no such log line within ${options.timeoutMs ?? 30_000} ms; stderr: ${stderr.slice(0, 800)}`,
          ),
        );
      }, options.timeoutMs ?? 30_000);
      waiters.add(check);
      check();
    });
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await closed;
  };
  return { child, lines, stderr: () => stderr, waitFor, closed, kill };
}

/** GET over a connection of its own (Connection: close), so that consecutive requests can meet different workers. */
export function getOnce(url: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
