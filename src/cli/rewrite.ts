import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isStaticManifest, rewriteManifest, sniffManifest } from '../manifest/index.js';
import { checkRequest } from '../tokens/check.js';
import {
  createTokenizer,
  resolutionBase,
  type ForwardUncovered,
  type TokenStrategy,
} from '../tokens/strategy.js';
import {
  asUsage,
  KEY_OPTIONS,
  nowSeconds,
  parseSeconds,
  parseUnixTime,
  readSecrets,
  requireScheme,
  SCHEME_CHOICES,
  UsageError,
  type Io,
} from './usage.js';

export const REWRITE_HELP = `Usage: streamgate rewrite FILE --url URL --scheme ${SCHEME_CHOICES} --secret KEY
                          [--tokens forward|mint|path] [--ip ADDR] [--now UNIX]
                          [--playlist-ttl S] [--segment-ttl S] [--origin URL]
                          [--forward-uncovered leave|path|mint]

Prints FILE (an HLS playlist or DASH MPD) as the gateway would send it to a viewer who requested it at
URL (the signed URL, token included). Offline, same code as the gateway. "-" reads standard input.

  --tokens S          forward (copy the viewer's token where it applies), mint (a fresh token per URI,
                      the default), path (tokens in the path)
  --ip ADDR           the viewer's address, when the zone binds tokens to IPs (ectoken: for ec_clientip)
  --origin URL        the upstream origin: absolute URIs naming it are pointed at the gateway
  --forward-uncovered W  forward: what URIs the viewer's token does not open get — leave them bare
                      (the default; players get 403), the token in path form, or a minted token`;

const STRATEGIES = ['forward', 'mint', 'path'];
const UNCOVERED = ['leave', 'path', 'mint'];

export function runRewrite(argv: string[], io: Io): number {
  const { values, positionals } = asUsage(() =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        url: { type: 'string' },
        ...KEY_OPTIONS,
        tokens: { type: 'string' },
        ip: { type: 'string' },
        now: { type: 'string' },
        'playlist-ttl': { type: 'string' },
        'segment-ttl': { type: 'string' },
        origin: { type: 'string' },
        'forward-uncovered': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (values.help) {
    io.out(REWRITE_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('rewrite takes exactly one FILE');
  if (values.url === undefined)
    throw new UsageError('--url is required: the signed URL the manifest was requested at');
  let manifestUrl: URL;
  try {
    manifestUrl = new URL(values.url);
  } catch {
    throw new UsageError(
      `--url must be an absolute URL, e.g. https://cdn.example.com/live/master.m3u8?md5=…&expires=…`,
    );
  }
  const scheme = requireScheme(values.scheme);
  const keys = readSecrets(values.secret, values['secret-file'], io.env);
  const strategy = (values.tokens ?? 'mint') as TokenStrategy;
  if (!STRATEGIES.includes(strategy))
    throw new UsageError(`--tokens must be one of ${STRATEGIES.join(', ')}`);
  if (strategy === 'path' && !scheme.pathTokens)
    throw new UsageError(`${scheme.name} tokens do not travel in the path; use --tokens mint or forward`);
  const forwardUncovered = (values['forward-uncovered'] ?? 'leave') as ForwardUncovered;
  if (!UNCOVERED.includes(forwardUncovered))
    throw new UsageError(`--forward-uncovered must be one of ${UNCOVERED.join(', ')}`);
  if (forwardUncovered === 'path' && !scheme.pathTokens)
    throw new UsageError(`${scheme.name} tokens have no path form; use --forward-uncovered mint`);
  let upstreamOrigin: string | undefined;
  if (values.origin !== undefined) {
    try {
      upstreamOrigin = new URL(values.origin).origin;
    } catch {
      throw new UsageError('--origin must be an absolute http(s) URL');
    }
  }
  const now = parseUnixTime('--now', values.now) ?? nowSeconds();
  const file = positionals[0] ?? '';
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  const kind = sniffManifest(text);
  if (kind === undefined) {
    io.err(`streamgate rewrite: ${file} is neither an HLS playlist (#EXTM3U) nor a DASH MPD (<MPD>)`);
    return 1;
  }
  const checked = checkRequest(values.url, {
    scheme,
    keys,
    now,
    bindIp: values.ip !== undefined && scheme.pathTokens,
    clientIp: values.ip,
    facts: {
      proto: manifestUrl.protocol === 'https:' ? 'https' : 'http',
      host: manifestUrl.hostname,
      authority: manifestUrl.host,
    },
  });
  const { verdict } = checked;
  if (!verdict.ok) {
    io.err(
      `streamgate rewrite: the gateway would answer ${verdict.status} ${verdict.reason} (${verdict.detail}), not a manifest`,
    );
    return 1;
  }
  const tokenize = createTokenizer({
    strategy,
    scheme,
    signingKey: keys[0] ?? '',
    incoming: verdict,
    now,
    playlistTtl: parseSeconds('--playlist-ttl', values['playlist-ttl']) ?? 14_400,
    segmentTtl: parseSeconds('--segment-ttl', values['segment-ttl']) ?? 60,
    staticManifest: isStaticManifest(kind, text),
    publicOrigin: manifestUrl.origin,
    upstreamOrigin,
    forwardUncovered,
  });
  const base = new URL(resolutionBase(values.url, verdict), manifestUrl);
  // The gateway's Location for a dynamic MPD without one: the MPD's URL without the viewer's token.
  const query = checked.upstreamQuery === '' ? '' : `?${checked.upstreamQuery}`;
  const insertLocation = `${manifestUrl.origin}${checked.upstreamPath ?? manifestUrl.pathname}${query}`;
  const result = rewriteManifest(kind, text, {
    manifestUrl: base,
    tokenize,
    ...(kind === 'dash' ? { insertLocation } : {}),
  });
  if (result.malformed !== undefined)
    io.err(`streamgate rewrite: passed through unchanged: ${result.malformed}`);
  process.stdout.write(result.text);
  for (const skipped of result.skipped) io.err(`left alone (${skipped.reason}): ${skipped.uri}`);
  if (tokenize.uncovered > 0) {
    io.err(
      `streamgate rewrite: warning: forward left ${tokenize.uncovered} URI(s) the viewer's token does not open without a token (players get 403), first ${tokenize.firstUncovered}; use --forward-uncovered path or mint, or sign a token that covers them`,
    );
  }
  return 0;
}
