/**
 * Query strings are handled as raw text: pairs the gateway does not own are forwarded byte for byte and
 * in order (README "Token rules"). Re-serialising through URLSearchParams would turn `+` into `%2B` or a space and
 * break signatures of other systems (Nimble's standard-base64 `wmsAuthSign`, Akamai `hdntl=…~acl=/*`).
 */
export interface QueryPair {
  /** The percent-decoded name (`md5`, `%6Dd5` → `md5`). */
  readonly name: string;
  /** The raw value text, undefined for a bare `name` without `=`. */
  readonly rawValue: string | undefined;
  /** The pair exactly as sent. */
  readonly raw: string;
}

function decodeComponent(text: string): string | undefined {
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

export function parseQuery(rawQuery: string): QueryPair[] {
  if (rawQuery === '') return [];
  return rawQuery.split('&').map((raw) => {
    const eq = raw.indexOf('=');
    const rawName = eq === -1 ? raw : raw.slice(0, eq);
    return {
      name: decodeComponent(rawName) ?? rawName,
      rawValue: eq === -1 ? undefined : raw.slice(eq + 1),
      raw,
    };
  });
}

/**
 * Percent-decodes a parameter value. Players re-encode forwarded queries (dash.js encodes with
 * encodeURIComponent), so values are compared decoded. `+` is kept as `+`: it is not in the base64url
 * alphabet, so a value holding it is malformed rather than silently read as a space.
 */
export function decodeValue(rawValue: string): string | undefined {
  return decodeComponent(rawValue);
}

/** The query without the named parameters, other pairs byte for byte and in order. */
export function withoutParams(pairs: readonly QueryPair[], names: ReadonlySet<string>): string {
  return pairs
    .filter((pair) => !names.has(pair.name))
    .map((pair) => pair.raw)
    .join('&');
}
