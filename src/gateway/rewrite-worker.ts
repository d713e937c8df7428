/**
 * The body of a rewrite thread (see rewrite-pool.ts): rebuilds the tokenizer from plain data, rewrites
 * one manifest and hands back its UTF-8 bytes, transferred: copying 16 MB into the main thread took
 * 40–180 ms of its time.
 */
import { Piscina } from 'piscina';
import { schemeForZone } from '../tokens/registry.js';
import type { RewriteJob, RewriteOutcome } from './rewrite-pool.js';
import { runRewriteJob } from './rewrite-job.js';

export default function rewriteJob(job: RewriteJob): RewriteOutcome {
  const { scheme, schemeOptions, pathTokens } = job.context;
  const { outcome, text } = runRewriteJob(job, schemeForZone(scheme, schemeOptions, { pathTokens }));
  if (text === undefined) return outcome;
  // Large enough to own its ArrayBuffer (Node pools only small Buffers): safe to hand over whole.
  const bytes = Buffer.from(text, 'utf8');
  const body = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteOffset !== 0 || bytes.buffer.byteLength !== bytes.byteLength) return { ...outcome, body };
  const movable = {
    [Piscina.transferableSymbol]: body.buffer,
    [Piscina.valueSymbol]: { ...outcome, body },
  };
  return Piscina.move(movable as never) as unknown as RewriteOutcome;
}
