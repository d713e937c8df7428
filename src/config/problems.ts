import type { z } from 'zod';
import { FIELD_HINTS } from './schema.js';

type PathItem = PropertyKey;

/** `zones[0].origin` from `['zones', 0, 'origin']`. */
export function formatPath(path: readonly PathItem[]): string {
  let out = '';
  for (const item of path) {
    if (typeof item === 'number') out += `[${item}]`;
    else out += out === '' ? String(item) : `.${String(item)}`;
  }
  return out === '' ? '(top level)' : out;
}

function hintKey(path: readonly PathItem[]): string {
  return formatPath(path.map((item) => (typeof item === 'number' ? -1 : item))).replace(/\[-1\]/g, '[]');
}

interface SchemaDef {
  type?: string;
  shape?: Record<string, unknown>;
  element?: unknown;
  innerType?: unknown;
  in?: unknown;
  options?: readonly unknown[];
}

function defOf(schema: unknown): SchemaDef | undefined {
  return (schema as { _zod?: { def?: SchemaDef } } | undefined)?._zod?.def;
}

/** The keys an object schema knows at `path`, looking through defaults, optionals and pipes. */
export function knownKeys(schema: unknown, path: readonly PathItem[]): string[] {
  let current: unknown = schema;
  let index = 0;
  for (let guard = 0; guard < 64 && current !== undefined; guard += 1) {
    const def = defOf(current);
    if (def === undefined) return [];
    if (def.innerType !== undefined) current = def.innerType;
    else if (def.type === 'pipe') current = def.in;
    else if (def.options !== undefined) {
      // A union (the zone, one member per scheme): the keys of its members.
      const members = def.options;
      if (index === path.length) {
        return [...new Set(members.flatMap((member) => knownKeys(member, [])))];
      }
      current = members.find((member) => knownKeys(member, []).includes(String(path[index])));
    } else if (index === path.length) return def.shape ? Object.keys(def.shape) : [];
    else if (def.type === 'array') {
      current = def.element;
      index += 1;
    } else if (def.shape !== undefined) {
      current = def.shape[String(path[index])];
      index += 1;
    } else return [];
  }
  return [];
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i += 1) {
    let diagonal = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const above = row[j] ?? 0;
      const cost = a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1;
      row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return row[b.length] ?? 0;
}

/** The closest known key to a typo, if it is close enough to be what was meant. */
export function suggest(typo: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = distance(typo, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}

/** One line per problem, each naming the field and what to write instead. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], schema: unknown): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const where = formatPath(issue.path);
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(schema, issue.path);
      for (const key of issue.keys) {
        const guess = suggest(key, known);
        const field = formatPath([...issue.path, key]);
        lines.push(
          guess === undefined
            ? `${field}: unknown key; known keys here: ${known.join(', ')}`
            : `${field}: unknown key; did you mean "${guess}"?`,
        );
      }
      continue;
    }
    if (issue.code === 'custom') {
      lines.push(`${where}: ${issue.message}`);
      continue;
    }
    const hint = FIELD_HINTS[hintKey(issue.path)];
    const message = issue.message.replace(/^Invalid input: /, '');
    lines.push(hint === undefined ? `${where}: ${message}` : `${where}: must be ${hint} (${message})`);
  }
  return lines;
}

/** Why a file could not be read, in words an operator acts on, from Node's error code. */
export function unreadable(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file; check the path';
    case 'EACCES':
    case 'EPERM':
      return "permission denied; let the gateway's user read it";
    case 'EISDIR':
      return 'a directory; give the file';
    default:
      return code ?? (error instanceof Error ? error.message : String(error));
  }
}
