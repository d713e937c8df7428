/**
 * Runs generated manifests through the gateway's own rewrite threads (RewritePool), each capped at a
 * small heap: a manifest that made the rewriter's memory blow up ends its thread
 * (ERR_WORKER_OUT_OF_MEMORY) and fails the property, as a runaway loop fails it by time.
 */
import { RewritePool, type RewriteOutcome } from '../../src/gateway/rewrite-pool.js';
import type { ManifestKind } from '../../src/manifest/index.js';
import { DEFAULT_MANIFEST_LIMITS } from '../../src/manifest/limits.js';
import type { Grant } from '../../src/tokens/verdict.js';

/** Heap of each fuzzing thread: 40 × the largest input, where a quadratic shape needs gigabytes. */
export const FUZZ_HEAP_MB = 160;

/** Runs, and the largest manifest, scaled up by FUZZ_RUNS / FUZZ_MAX_BYTES for a long session. */
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 6);
export const FUZZ_MAX_BYTES = Number(process.env.FUZZ_MAX_BYTES ?? 2_000_000);
/** Time for one whole property: 20 s a run at least (8 MB documents on a loaded machine). */
export const FUZZ_TIMEOUT_MS = Math.max(300_000, FUZZ_RUNS * 20_000);

/**
 * True when `output` is `input` with only the given insertions (tokens) added. A plain regex cannot
 * tell `a?` + `sgTok=Q7` from `a` + `?sgTok=Q7`, so the two texts are aligned left to right, skipping
 * an insertion wherever they differ.
 */
export function onlyInserted(input: string, output: string, insertions: readonly string[]): boolean {
  let i = 0;
  let j = 0;
  while (j < output.length) {
    if (i < input.length && input[i] === output[j]) {
      i += 1;
      j += 1;
      continue;
    }
    const skip = insertions.find((insertion) => output.startsWith(insertion, j));
    if (skip === undefined) return false;
    j += skip.length;
  }
  return i === input.length;
}

const GRANT: Grant = {
  ok: true,
  status: 200,
  expires: 2_000_000_000,
  scope: 'directory',
  signedPath: '/live/',
  token: 'tok',
};

export interface Measured {
  readonly outcome: RewriteOutcome;
  readonly ms: number;
  readonly bytes: number;
}

export class SizeFuzzer {
  readonly pool = new RewritePool({ threads: 1, heapMb: FUZZ_HEAP_MB });
  worst: Measured | undefined;
  runs = 0;
  largest = 0;
  refused = 0;

  /** Starts the thread, so that its start-up is not counted against the first manifest. */
  async warm(): Promise<void> {
    await this.rewrite('hls', '#EXTM3U\nseg.ts\n');
    this.worst = undefined;
    this.runs = 0;
    this.largest = 0;
    this.refused = 0;
  }

  async rewrite(kind: ManifestKind, text: string): Promise<Measured> {
    const started = performance.now();
    const outcome = await this.pool.run({
      kind,
      text,
      manifestUrl: `https://gw.example/live/ch1/manifest.${kind === 'hls' ? 'm3u8' : 'mpd'}?md5=x&expires=2000000000`,
      context: {
        strategy: 'mint',
        scheme: 'gcore',
        schemeOptions: undefined,
        pathTokens: true,
        signingKey: 'fuzz-secret',
        incoming: GRANT,
        now: 1_700_000_000,
        playlistTtl: 3600,
        segmentTtl: 60,
        staticManifest: true,
        publicOrigin: 'https://gw.example',
      },
      urlParam: undefined,
      insertLocation: undefined,
      limits: DEFAULT_MANIFEST_LIMITS,
      skippedWanted: 0,
    });
    const measured = { outcome, ms: performance.now() - started, bytes: text.length };
    this.runs += 1;
    this.largest = Math.max(this.largest, text.length);
    if (outcome.limit !== undefined || outcome.malformed !== undefined) this.refused += 1;
    if (this.worst === undefined || measured.ms > this.worst.ms) {
      this.worst = measured;
    }
    return measured;
  }

  report(name: string): string {
    const worst = this.worst;
    if (!worst) return `${name}: no runs`;
    const result = worst.outcome.limit
      ? `refused (${worst.outcome.limit.limit})`
      : worst.outcome.malformed
        ? 'malformed'
        : `${worst.outcome.rewritten} rewritten`;
    return (
      `${name}: ${this.runs} runs up to ${(this.largest / 1e6).toFixed(2)} MB, ${this.refused} refused; slowest` +
      ` ${worst.ms.toFixed(0)} ms for ${(worst.bytes / 1e6).toFixed(2)} MB ` +
      `(${((worst.ms * 1e6) / worst.bytes).toFixed(0)} ms per MB), ${result}`
    );
  }
}
