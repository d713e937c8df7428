/**
 * Wildcard match as Akamai ACLs and CloudFront policy resources write it: `*` any run of characters
 * (slashes included), `?` exactly one. Greedy backtracking over one saved star: linear in practice and
 * never exponential, unlike a regular expression built from the pattern.
 */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    const char = pattern[p];
    if (char === '?' || (char !== undefined && char !== '*' && char === text[t])) {
      p += 1;
      t += 1;
    } else if (char === '*') {
      star = p;
      resume = t;
      p += 1;
    } else if (star !== -1) {
      p = star + 1;
      resume += 1;
      t = resume;
    } else return false;
  }
  while (pattern[p] === '*') p += 1;
  return p === pattern.length;
}

/** The fixed text before a pattern's first wildcard, and whether that prefix is all there is (`/a/*`). */
export function globPrefix(pattern: string): { readonly prefix: string; readonly trailingStarOnly: boolean } {
  const first = pattern.search(/[*?]/);
  if (first === -1) return { prefix: pattern, trailingStarOnly: false };
  return {
    prefix: pattern.slice(0, first),
    trailingStarOnly: first === pattern.length - 1 && pattern.endsWith('*'),
  };
}
