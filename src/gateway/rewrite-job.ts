import { rewriteManifest } from '../manifest/index.js';
import type { TokenScheme } from '../tokens/scheme.js';
import { createTokenizer } from '../tokens/strategy.js';
import type { RewriteJob, RewriteOutcome } from './rewrite-pool.js';

/**
 * One manifest rewritten for one viewer, as the job describes it: the one code path of rewrites on
 * the event loop and in rewrite threads, which differ only in where `scheme` comes from (the zone's
 * own, or one rebuilt from plain data) and in how the text is handed back.
 */
export function runRewriteJob(
  job: RewriteJob,
  scheme: TokenScheme,
): { readonly outcome: RewriteOutcome; readonly text: string | undefined } {
  const { scheme: _name, schemeOptions: _options, pathTokens: _pathTokens, ...context } = job.context;
  const tokenize = createTokenizer({ ...context, scheme });
  const result = rewriteManifest(job.kind, job.text, {
    manifestUrl: new URL(job.manifestUrl),
    tokenize,
    limits: job.limits,
    ...(job.urlParam === undefined ? {} : { urlParam: job.urlParam }),
    ...(job.insertLocation === undefined ? {} : { insertLocation: job.insertLocation }),
  });
  const refused = result.malformed !== undefined || result.limit !== undefined;
  return {
    outcome: {
      uncovered: tokenize.uncovered,
      ...(tokenize.firstUncovered === undefined ? {} : { firstUncovered: tokenize.firstUncovered }),
      rewritten: result.rewritten,
      skipped: result.skipped.slice(0, job.skippedWanted),
      skippedCount: result.skipped.length,
      ...(result.malformed === undefined ? {} : { malformed: result.malformed }),
      ...(result.limit === undefined ? {} : { limit: result.limit }),
    },
    text: refused ? undefined : result.text,
  };
}
