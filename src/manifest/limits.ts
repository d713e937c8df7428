/**
 * Safety limits of the rewriters. A manifest comes from the origin, which may be compromised or
 * broken: its size is capped before it reaches a rewriter (the gateway's `limits.manifestMaxBytes`),
 * and these caps bound what a document of that size can make the rewriter build — with them every
 * rewrite takes time and memory linear in the manifest's length.
 */

export interface ManifestLimits {
  /**
   * DASH: the deepest element nesting. A real MPD nests about ten deep (MPD, Period, AdaptationSet,
   * Representation, SegmentList, SegmentURL, with ContentProtection or event payloads below); libxml2
   * refuses documents deeper than 256 unless told otherwise.
   */
  readonly maxDepth: number;
  /** DASH: elements in one document (an 8 MiB SegmentList MPD holds about 200,000). */
  readonly maxElements: number;
  /**
   * Characters of URLs the rewriter may build (resolved BaseURLs, segment URLs, HLS URIs after
   * variable substitution) per character of the manifest, with a floor of `EXPANSION_FLOOR`. A URL
   * is its base plus its reference, so nesting BaseURLs or defining a long HLS variable and naming it
   * many times makes a small document resolve to gigabytes; real manifests stay below 4.
   */
  readonly maxExpansion: number;
}

export const DEFAULT_MANIFEST_LIMITS: ManifestLimits = {
  maxDepth: 256,
  maxElements: 1_000_000,
  maxExpansion: 16,
};

/** Characters of URLs any manifest may resolve to, however short (a small MPD with long BaseURLs). */
export const EXPANSION_FLOOR = 4 * 1024 * 1024;

/** Which limit a manifest exceeds: the rewriter then returns its text unchanged with this set. */
export interface LimitExceeded {
  readonly limit: 'depth' | 'elements' | 'expansion';
  /** The limit in force. */
  readonly max: number;
  readonly detail: string;
}

/**
 * Counts the characters of URLs built while rewriting one manifest against its allowance. Callers
 * spend before (or right after) building, and stop once `exceeded` is set.
 */
export class ExpansionBudget {
  readonly max: number;
  #left: number;
  exceeded = false;

  constructor(textLength: number, limits: ManifestLimits) {
    this.max = Math.max(EXPANSION_FLOOR, Math.ceil(textLength * limits.maxExpansion));
    this.#left = this.max;
  }

  /** Takes `characters`; false (and `exceeded` set) once the allowance is gone. */
  spend(characters: number): boolean {
    this.#left -= characters;
    if (this.#left < 0) this.exceeded = true;
    return !this.exceeded;
  }

  limit(what: string): LimitExceeded {
    return {
      limit: 'expansion',
      max: this.max,
      detail: `${what} resolve to more than ${this.max} characters of URLs`,
    };
  }
}
