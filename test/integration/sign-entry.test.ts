import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { signUrl as signFromSource } from '../../src/sign.js';

// `streamgate/sign` (package.json "exports") signs and verifies in a fresh Node process without loading
// the gateway's stack. What a process loaded is read two ways: a module resolve hook records every
// module the ESM loader resolves, and require.cache lists every CommonJS module (express, undici, pino
// and prom-client are CommonJS, and so are their own dependencies). The main entry is the control: the
// same probe must see them there, or the probe proves nothing.

const ROOT = new URL('../../', import.meta.url).pathname;
const HEAVY = /\/node_modules\/(express|undici|pino|prom-client)\//;

const HOOKS = `
import { appendFileSync } from 'node:fs';
let file;
export function initialize(data) { file = data.file; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(file, result.url + '\\n');
  return result;
}`;

function probe(entry: string): Promise<{ resolved: string[]; cjs: string[]; url: string; ok: boolean }> {
  const file = join(mkdtempSync(join(tmpdir(), 'streamgate-entry-')), 'resolved.txt');
  const script = `
import { createRequire, register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOKS)}), import.meta.url, { data: { file: ${JSON.stringify(file)} } });
const lib = await import(${JSON.stringify(entry)});
const url = lib.signUrl('/videos/v1/seg-1.ts', { scheme: 'gcore', secret: 'k', expires: 2000000000 });
const check = lib.verifyRequest(url, { scheme: 'gcore', secret: ['k'], now: 1000000000 });
const cjs = Object.keys(createRequire(import.meta.url).cache);
process.stdout.write(JSON.stringify({ url, ok: check.ok, cjs }));
`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`probe exited ${code}: ${err}`));
        return;
      }
      const parsed = JSON.parse(out) as { url: string; ok: boolean; cjs: string[] };
      const resolved = readFileSync(file, 'utf8').split('\n').filter(Boolean);
      resolve({ ...parsed, resolved });
    });
  });
}

describe("streamgate/sign: the library's signing side without the gateway's dependencies", () => {
  it('signs and verifies exactly as the main entry, loading none of express, undici, pino and prom-client', async () => {
    const [light, full] = await Promise.all([probe('streamgate/sign'), probe('streamgate')]);
    const expected = signFromSource('/videos/v1/seg-1.ts', {
      scheme: 'gcore',
      secret: 'k',
      expires: 2_000_000_000,
    });
    expect(light.url).toBe(expected);
    expect(full.url).toBe(expected);
    expect(light.ok).toBe(true);
    // It really is the package's own export that was loaded (the built dist/ through "exports").
    expect(light.resolved).toContain(`file://${ROOT}dist/sign.js`);
    expect([...light.resolved, ...light.cjs].filter((url) => HEAVY.test(url))).toEqual([]);
    // The control: the probe sees all four through the main entry.
    const seen = new Set([...full.resolved, ...full.cjs].flatMap((url) => HEAVY.exec(url)?.[1] ?? []));
    expect(seen).toEqual(new Set(['express', 'undici', 'pino', 'prom-client']));
  }, 30_000);
});
