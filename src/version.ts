import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** The package's version, from the package.json one level above src/ (or dist/). */
export function packageVersion(): string {
  cached ??= (
    JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
  ).version;
  return cached;
}
