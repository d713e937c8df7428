import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/usage.js';
import { loadConfig } from '../../src/config/index.js';

// The environment and the flags win over the file (file → environment → flags), and the Docker image
// sets STREAMGATE_HOST and STREAMGATE_PORT: a file's listen that they replace is said, never silent.

const dir = mkdtempSync(join(tmpdir(), 'streamgate-overrides-'));
const file = join(dir, 'streamgate.yaml');
writeFileSync(
  file,
  'listen: { host: 127.0.0.1, port: 9000 }\nlog: { level: warn }\nzones:\n  - { name: a, origin: "http://127.0.0.1:9", scheme: gcore, secrets: [k] }\n',
);

describe('settings of the file replaced by the environment or a flag', () => {
  it('are listed, naming the file, the variable or flag, and both values', () => {
    const result = loadConfig({
      file,
      env: { STREAMGATE_HOST: '0.0.0.0', STREAMGATE_PORT: '8080', STREAMGATE_LOG_LEVEL: 'warn' },
      flags: { port: 8081 },
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.listen).toEqual({ host: '0.0.0.0', port: 8081 });
    expect(result.overridden).toEqual([
      `listen.host: 127.0.0.1 in ${file} is overridden by STREAMGATE_HOST=0.0.0.0`,
      `listen.port: 9000 in ${file} is overridden by --port 8081`,
    ]);
  });

  it('none when the file does not set them, or nothing replaces them', () => {
    const plain = loadConfig({ file, env: {} });
    expect(plain.ok && plain.overridden).toBeUndefined();
    const noFile = loadConfig({
      env: { STREAMGATE_PORT: '8080', STREAMGATE_SECRET: 'k' },
      flags: { origin: 'http://127.0.0.1:9', scheme: 'gcore' },
    });
    expect(noFile.ok && noFile.overridden).toBeUndefined();
  });

  it('serve --check prints them as notes', async () => {
    const lines: string[] = [];
    const io: Io = {
      out: (line) => lines.push(line),
      err: (line) => lines.push(line),
      env: { STREAMGATE_PORT: '8080' },
    };
    expect(await main(['serve', '--config', file, '--check'], io)).toBe(0);
    expect(lines).toContain(`  note: listen.port: 9000 in ${file} is overridden by STREAMGATE_PORT=8080`);
  });
});
