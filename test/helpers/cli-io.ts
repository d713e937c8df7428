import type { Io } from '../../src/cli/usage.js';

/** The CLI's output and error lines, collected, for calling `main` in-process. */
export type CapturedIo = Io & { readonly lines: string[]; readonly errors: string[] };

export function captureIo(env: NodeJS.ProcessEnv = {}): CapturedIo {
  const lines: string[] = [];
  const errors: string[] = [];
  return { out: (line) => lines.push(line), err: (line) => errors.push(line), env, lines, errors };
}
