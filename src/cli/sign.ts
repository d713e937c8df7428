import { parseArgs } from 'node:util';
import { signCookiesWith, signUrlWith } from '../tokens/operations.js';
import { SignError } from '../tokens/sign.js';
import {
  nowSeconds,
  asUsage,
  KEY_OPTIONS,
  parseSeconds,
  parseUnixTime,
  readSecrets,
  requireDefinition,
  SCHEME_CHOICES,
  schemeFlagHelp,
  schemeFlagOptions,
  schemeOptionsFromFlags,
  schemeSummaries,
  UsageError,
  type Io,
} from './usage.js';

export const SIGN_HELP = `Usage: streamgate sign PATH_OR_URL --scheme ${SCHEME_CHOICES} --secret KEY
                       (--ttl S | --expires UNIX) [--ip ADDR] [--dir] [--path-token] [--now UNIX]
                       [--cookie] [scheme flags, below]

Prints the signed URL on one line (with --cookie: the Set-Cookie values, one per line).

  --scheme S          token format:
${schemeSummaries('                        ')}
  --secret KEY        signing key (or --secret-file FILE, or STREAMGATE_SECRET in the environment);
                      an ectoken key is 1–250 letters and digits
  --ttl S             lifetime in seconds from now
  --expires UNIX      absolute expiry, Unix seconds
  --ip ADDR           bind the token to this client address (gcore, ectoken, …; IPv4 or IPv6)
  --dir               sign the directory holding the path; the URL opens every file directly in it
                      (ectoken: ec_url_allow is that directory, so its whole subtree opens)
  --path-token        embed a directory token in the path (/dir/~token~expires/file): opens the subtree
                      (keycdn, gcore)
  --cookie            print Set-Cookie values instead of a URL (schemes whose tokens travel in cookies)
  --now UNIX          the time --ttl counts from (default: the clock)

Scheme flags (L is a comma-separated list; ectoken: allow wins where a value is in both lists):

${schemeFlagHelp('sign')}

Examples:
  streamgate sign /videos/video-1/master.m3u8 --scheme gcore --dir --ttl 120 --secret-file key.txt
  streamgate sign /videos/video-1/master.m3u8 --scheme ectoken --dir --ttl 3600 --secret-file key.txt \\
    --country-allow US,CA --ref-allow www.example.com,missing --proto-allow https`;

export function runSign(argv: string[], io: Io): number {
  const { values, positionals } = asUsage(() =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        ...schemeFlagOptions('sign'),
        ...KEY_OPTIONS,
        ttl: { type: 'string' },
        expires: { type: 'string' },
        now: { type: 'string' },
        ip: { type: 'string' },
        dir: { type: 'boolean' },
        'path-token': { type: 'boolean' },
        cookie: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (values.help) {
    io.out(SIGN_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('sign takes exactly one PATH_OR_URL');
  const definition = requireDefinition(values.scheme);
  const schemeOptions = schemeOptionsFromFlags(definition, values, 'sign');
  const secrets =
    definition.secrets === 'required' || values.secret !== undefined || values['secret-file'] !== undefined
      ? readSecrets(values.secret, values['secret-file'], io.env)
      : [];
  const ttl = parseSeconds('--ttl', values.ttl);
  const expiresFlag = parseUnixTime('--expires', values.expires);
  if ((ttl === undefined) === (expiresFlag === undefined))
    throw new UsageError('give exactly one of --ttl and --expires');
  if (values.dir && values['path-token']) throw new UsageError('--dir and --path-token exclude each other');
  const now = parseUnixTime('--now', values.now) ?? nowSeconds();
  const options = {
    ...schemeOptions,
    scheme: definition.name,
    ...(secrets.length === 0 ? {} : { secret: secrets[0] }),
    expires: expiresFlag ?? now + (ttl ?? 0),
    now,
    ...(values.ip === undefined ? {} : { ip: values.ip }),
    dir: values.dir ?? false,
    pathToken: values['path-token'] ?? false,
  };
  try {
    const target = positionals[0] ?? '';
    if (values.cookie) for (const line of signCookiesWith(target, options)) io.out(line);
    else io.out(signUrlWith(target, options));
  } catch (error) {
    if (error instanceof SignError) throw new UsageError(error.message);
    throw error;
  }
  return 0;
}
