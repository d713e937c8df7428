import type { TokenGrant } from '../types.js';
import { applyGrant } from '../uri.js';

/** A `{$name}` reference that was replaced: where it sits in the raw text and in the substituted text. */
interface Span {
  /** The variable's name. */
  readonly name: string;
  readonly rawStart: number;
  readonly rawEnd: number;
  readonly subStart: number;
  readonly subEnd: number;
}

export interface Substitution {
  /** The URI as the player will see it after variable substitution. */
  readonly text: string;
  /** The references that were replaced, in order. */
  readonly spans: readonly Span[];
}

/**
 * Variables known so far in one playlist. rfc8216bis §4.4.2.3: `NAME`/`VALUE` defines a value,
 * `QUERYPARAM` takes it from the playlist URL's query, `IMPORT` from the multivariant playlist, which
 * the rewriter of a media playlist cannot see: such names stay unknown and their URIs are left alone.
 */
export type VariableTable = Map<string, string>;

/** rfc8216bis §4.3: a variable reference is `{$name}`, names made of `[a-zA-Z0-9-_]`. */
const REFERENCE = /\{\$([A-Za-z0-9_-]+)\}/g;

/**
 * Replaces every reference to a known variable; references to unknown ones stay as they are (the
 * resolver then reports them as unresolved). Returns `undefined` when nothing was replaced.
 */
export function substitute(raw: string, variables: VariableTable): Substitution | undefined {
  if (variables.size === 0 || !raw.includes('{$')) return undefined;
  let text = '';
  let copied = 0;
  const spans: Span[] = [];
  REFERENCE.lastIndex = 0;
  for (let match = REFERENCE.exec(raw); match !== null; match = REFERENCE.exec(raw)) {
    const name = match[1]!;
    const value = variables.get(name);
    if (value === undefined) continue;
    text += raw.slice(copied, match.index);
    const subStart = text.length;
    text += value;
    spans.push({ name, rawStart: match.index, rawEnd: REFERENCE.lastIndex, subStart, subEnd: text.length });
    copied = REFERENCE.lastIndex;
  }
  if (spans.length === 0) return undefined;
  return { text: text + raw.slice(copied), spans };
}

/**
 * Whether a value of one of `names` decides where the substituted URI points: it starts before the
 * end of the URI's scheme, authority and path (the first `?` or `#` of the substituted text). A value
 * that only adds to the query (`seg.ts?session={$s}`, or `seg.ts{$q}` with q = `?x=1`) does not.
 */
export function decidesTarget(substitution: Substitution, names: ReadonlySet<string>): boolean {
  if (names.size === 0) return false;
  const text = substitution.text;
  const question = text.indexOf('?');
  const hash = text.indexOf('#');
  const pathEnd = Math.min(question === -1 ? text.length : question, hash === -1 ? text.length : hash);
  return substitution.spans.some((span) => span.subStart < pathEnd && names.has(span.name));
}

/** Maps a position in the substituted text to the raw text; `undefined` inside a variable's value. */
function rawPosition(position: number, spans: readonly Span[]): number | undefined {
  let shift = 0;
  for (const span of spans) {
    if (span.subEnd <= position) shift = span.rawEnd - span.subEnd;
    else if (span.subStart < position) return undefined;
    else break;
  }
  return position + shift;
}

function countReferences(text: string): number {
  let count = 0;
  for (let at = text.indexOf('{$'); at !== -1; at = text.indexOf('{$', at + 2)) count += 1;
  return count;
}

/**
 * Applies a grant to a URI that holds variable references, keeping the references in the text so that
 * the player still substitutes them (rfc8216bis §4.3). The grant is applied to the substituted URI,
 * so a variable that carries the query (`seg.mp4{$auth}` with `auth` = `?sig=x`) gets `&tok=…`, not a
 * second `?`; the change is then carried back to the raw text. Returns `undefined` when the change would
 * have to be made inside a variable's value (an old token inside `{$auth}`, a host in `{$cdn}` that a
 * rebase must replace): the URI is then left alone.
 */
export function applyGrantThroughVariables(
  raw: string,
  substitution: Substitution,
  grant: TokenGrant,
  variables: VariableTable,
): string | undefined {
  const before = substitution.text;
  const after = applyGrant(before, grant);
  if (after === before) return raw;
  const shorter = Math.min(before.length, after.length);
  let prefix = 0;
  while (prefix < shorter && before.charCodeAt(prefix) === after.charCodeAt(prefix)) prefix += 1;
  let suffix = 0;
  while (
    suffix < shorter - prefix &&
    before.charCodeAt(before.length - 1 - suffix) === after.charCodeAt(after.length - 1 - suffix)
  ) {
    suffix += 1;
  }
  const start = rawPosition(prefix, substitution.spans);
  const end = rawPosition(before.length - suffix, substitution.spans);
  if (start === undefined || end === undefined || end < start) return undefined;
  const result = raw.slice(0, start) + after.slice(prefix, after.length - suffix) + raw.slice(end);
  // The edit must leave every reference in place and give the player exactly the granted URI.
  if (countReferences(result) !== countReferences(raw)) return undefined;
  if ((substitute(result, variables)?.text ?? result) !== after) return undefined;
  return result;
}
