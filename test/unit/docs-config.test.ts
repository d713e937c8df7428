import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';

const docs = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
const yamlBlocks = [...docs.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');

describe('docs/operations.md: the configuration examples are valid', () => {
  it('has YAML examples', () => {
    expect(yamlBlocks.length).toBeGreaterThanOrEqual(2);
  });

  it.each(yamlBlocks.map((block, index) => [index, block] as const))('example %i loads', (_index, block) => {
    const dir = mkdtempSync(join(tmpdir(), 'streamgate-docs-'));
    try {
      writeFileSync(join(dir, 'vod-keys.txt'), 'vod-key\n');
      // The key files the scheme examples name (throwaway test keys).
      const keys = new URL('../vectors/keys/', import.meta.url);
      for (const [name, source] of [
        ['cloudfront-public.pem', 'cloudfront-a.public.pem'],
        ['cloudfront-private.pem', 'cloudfront-a.private.pem'],
        ['jwks.json', 'jwt.jwks.json'],
      ] as const) {
        writeFileSync(join(dir, name), readFileSync(new URL(source, keys)));
      }
      // Only readability is checked at load time; the gateway opens the database when it starts.
      writeFileSync(join(dir, 'GeoLite2-Country.mmdb'), '');
      const file = join(dir, 'config.yaml');
      writeFileSync(file, block);
      const result = loadConfig({
        file,
        env: { LIVE_KEY: 'k1', STREAMGATE_LIVE_KEY: 'k2', AZURE_KEY: 'a1b2c3d4e5f6' },
      });
      expect(result.ok ? [] : result.problems).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
