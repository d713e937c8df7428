import { parseArgs } from 'node:util';
import { SignError, signTarget } from '../tokens/sign.js';
import {
  nowSeconds,
  asUsage,
  KEY_OPTIONS,
  parseSeconds,
  parseUnixTime,
  readSecrets,
  requireScheme,
  UsageError,
  type Io,
} from './usage.js';

export const SIGN_HELP = `Usage: streamgate sign PATH_OR_URL --scheme keycdn|gcore --secret KEY (--ttl S | --expires UNIX)
                       [--ip ADDR] [--dir] [--path-token] [--now UNIX]

Prints the signed URL on one line.

  --scheme S          token format: keycdn (?token=&expire=) or gcore (?md5=&expires=)
  --secret KEY        signing key (or --secret-file FILE, or STREAMGATE_SECRET in the environment)
  --ttl S             lifetime in seconds from now
  --expires UNIX      absolute expiry, Unix seconds
  --ip ADDR           bind the token to this client address (gcore; IPv4 or IPv6)
  --dir               sign the directory holding the path; the URL opens every file directly in it
  --path-token        embed a directory token in the path (/dir/~token~expires/file): opens the subtree
  --now UNIX          the time --ttl counts from (default: the clock)

Example: streamgate sign /videos/video-1/master.m3u8 --scheme gcore --dir --ttl 120 --secret-file key.txt`;

export function runSign(argv: string[], io: Io): number {
  const { values, positionals } = asUsage(() =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        ...KEY_OPTIONS,
        ttl: { type: 'string' },
        expires: { type: 'string' },
        now: { type: 'string' },
        ip: { type: 'string' },
        dir: { type: 'boolean' },
        'path-token': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (values.help) {
    io.out(SIGN_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('sign takes exactly one PATH_OR_URL');
  const scheme = requireScheme(values.scheme);
  const [secret] = readSecrets(values.secret, values['secret-file'], io.env);
  const ttl = parseSeconds('--ttl', values.ttl);
  const expiresFlag = parseUnixTime('--expires', values.expires);
  if ((ttl === undefined) === (expiresFlag === undefined))
    throw new UsageError('give exactly one of --ttl and --expires');
  if (values.dir && values['path-token']) throw new UsageError('--dir and --path-token exclude each other');
  const expires = expiresFlag ?? (parseUnixTime('--now', values.now) ?? nowSeconds()) + (ttl ?? 0);
  try {
    io.out(
      signTarget(positionals[0] ?? '', {
        scheme,
        secret: secret ?? '',
        expires,
        ip: values.ip,
        scope: values['path-token'] ? 'path' : values.dir ? 'directory' : 'file',
      }),
    );
  } catch (error) {
    if (error instanceof SignError) throw new UsageError(error.message);
    throw error;
  }
  return 0;
}
