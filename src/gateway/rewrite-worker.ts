/**
 * The body of a rewrite thread (see rewrite-pool.ts): rebuilds the tokenizer from plain data, rewrites
 * one manifest and hands back its UTF-8 bytes, transferred: copying 16 MB into the main thread took
 * 40–180 ms of its time.
 */
import { Piscina } from 'piscina';
import { rewriteManifest } from '../manifest/index.js';
import { createTokenizer } from '../tokens/strategy.js';
import { schemeForZone } from '../tokens/registry.js';
import type { RewriteJob, RewriteOutcome } from './rewrite-pool.js';

export default function rewriteJob(job: RewriteJob): RewriteOutcome {
  const { scheme, schemeOptions, pathTokens, ...context } = job.context;
  const tokenize = createTokenizer({
    ...context,
    scheme: schemeForZone(scheme, schemeOptions, { pathTokens }),
  });
  const result = rewriteManifest(job.kind, job.text, {
    manifestUrl: new URL(job.manifestUrl),
    tokenize,
    limits: job.limits,
    ...(job.urlParam === undefined ? {} : { urlParam: job.urlParam }),
    ...(job.insertLocation === undefined ? {} : { insertLocation: job.insertLocation }),
  });
  const outcome: RewriteOutcome = {
    uncovered: tokenize.uncovered,
    ...(tokenize.firstUncovered === undefined ? {} : { firstUncovered: tokenize.firstUncovered }),
    rewritten: result.rewritten,
    skipped: result.skipped.slice(0, job.skippedWanted),
    skippedCount: result.skipped.length,
    ...(result.malformed === undefined ? {} : { malformed: result.malformed }),
    ...(result.limit === undefined ? {} : { limit: result.limit }),
  };
  if (result.malformed !== undefined || result.limit !== undefined) return outcome;
  // Large enough to own its ArrayBuffer (Node pools only small Buffers): safe to hand over whole.
  const bytes = Buffer.from(result.text, 'utf8');
  const body = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteOffset !== 0 || bytes.buffer.byteLength !== bytes.byteLength) return { ...outcome, body };
  const movable = {
    [Piscina.transferableSymbol]: body.buffer,
    [Piscina.valueSymbol]: { ...outcome, body },
  };
  return Piscina.move(movable as never) as unknown as RewriteOutcome;
}
