import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { ManifestKind } from '../manifest/index.js';
import type { DashRewriteOptions } from '../manifest/dash/index.js';
import type { LimitExceeded, ManifestLimits } from '../manifest/limits.js';
import type { SkippedUri } from '../manifest/types.js';
import type { SchemeName } from '../tokens/scheme.js';
import type { StrategyContext } from '../tokens/strategy.js';

/**
 * Manifests up to this many characters are rewritten on the event loop; longer ones in a rewrite
 * thread. Measured (bench/rewrite.ts): a 64 KiB MPD takes about 15 ms to rewrite with minted tokens, a
 * 64 KiB playlist about 5 ms; an 8 MiB MPD took 2 s, during which no other viewer was served.
 */
export const INLINE_REWRITE_CHARS = 64 * 1024;

/** What a rewrite thread needs: all plain data (the scheme travels by name and options). */
export interface RewriteJob {
  readonly kind: ManifestKind;
  readonly text: string;
  readonly manifestUrl: string;
  readonly context: Omit<StrategyContext, 'scheme'> & {
    readonly scheme: SchemeName;
    /** The zone's resolved scheme settings (plain data: PEM text, JWKs), as ZoneConfig.schemeOptions. */
    readonly schemeOptions: unknown;
    /** ZoneConfig.pathTokens: without it the thread's scheme would read and write path forms again. */
    readonly pathTokens: boolean;
  };
  readonly urlParam: DashRewriteOptions['urlParam'];
  /** DASH: the Location a dynamic MPD without one gets (DashRewriteOptions.insertLocation). */
  readonly insertLocation: string | undefined;
  readonly limits: ManifestLimits;
  /** How many skipped URIs to send back (only logged at debug level; a long list costs a copy). */
  readonly skippedWanted: number;
}

export interface RewriteOutcome {
  /** The rewritten manifest, UTF-8; absent when `malformed` or `limit` is set. */
  readonly body?: Uint8Array;
  readonly rewritten: number;
  /** forward: URIs the viewer's token does not open, left without a token (StrategyTokenizer). */
  readonly uncovered: number;
  readonly firstUncovered?: string;
  readonly skipped: readonly SkippedUri[];
  readonly skippedCount: number;
  readonly malformed?: string;
  readonly limit?: LimitExceeded;
}

/**
 * Old-generation heap of one rewrite thread. Far above what any manifest within the limits needs (an
 * 8 MiB SegmentList MPD peaks near 150 MB), it is the last line: a thread that reaches it is ended and
 * replaced, its manifest answered 502, and the gateway lives on.
 */
const THREAD_HEAP_MB = 768;

/** Threads: one per core beyond the one the event loop uses, at least one, at most four. */
export function defaultRewriteThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

/**
 * The rewrite threads of one gateway (worker_threads through piscina), started on the first large
 * manifest and kept while the gateway runs. Jobs wait in order when every thread is busy; what may
 * wait is bounded by the manifest memory budget, which every job holds a share of.
 */
export class RewritePool {
  #pool: Piscina | undefined;
  readonly threads: number;
  readonly heapMb: number;

  constructor(options: { readonly threads?: number; readonly heapMb?: number } = {}) {
    this.threads = options.threads ?? defaultRewriteThreads();
    this.heapMb = options.heapMb ?? THREAD_HEAP_MB;
  }

  run(job: RewriteJob): Promise<RewriteOutcome> {
    this.#pool ??= createPool(this.threads, this.heapMb);
    return this.#pool.run(job) as Promise<RewriteOutcome>;
  }

  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.destroy();
  }
}

function createPool(threads: number, heapMb: number): Piscina {
  // Under the test runner and tsx this module is TypeScript, and so is the thread's.
  const typescript = import.meta.url.endsWith('.ts');
  const filename = new URL(typescript ? './rewrite-worker.ts' : './rewrite-worker.js', import.meta.url).href;
  return new Piscina({
    filename,
    minThreads: 1,
    maxThreads: threads,
    idleTimeout: 60_000,
    resourceLimits: { maxOldGenerationSizeMb: heapMb },
    execArgv: typescript ? ['--import', 'tsx'] : [],
    // Threads wait on a message port between jobs rather than spinning on Atomics.wait.
    atomics: 'disabled',
  });
}
