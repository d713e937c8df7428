import { parseArgs } from 'node:util';
import { checkRequest } from '../tokens/check.js';
import { verdictName } from '../tokens/verdict.js';
import {
  nowSeconds,
  asUsage,
  KEY_OPTIONS,
  parseUnixTime,
  readSecrets,
  requireScheme,
  UsageError,
  type Io,
} from './usage.js';

export const VERIFY_HELP = `Usage: streamgate verify URL --scheme keycdn|gcore --secret KEY [--secret KEY2]
                         [--ip ADDR] [--now UNIX] [--json]

Checks a signed URL the way the gateway does. Exit status 0 when valid, 1 when denied.

  --secret KEY        accepted key, repeatable for rotation (or --secret-file FILE, STREAMGATE_SECRET)
  --ip ADDR           the client address; the token must be bound to it
  --now UNIX          check at this time instead of the clock
  --json              print one JSON line: {"verdict":"valid|invalid|expired|bad_request","status":…,"reason":…}`;

export function runVerify(argv: string[], io: Io): number {
  const { values, positionals } = asUsage(() =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        ...KEY_OPTIONS,
        ip: { type: 'string' },
        now: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (values.help) {
    io.out(VERIFY_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('verify takes exactly one URL');
  const scheme = requireScheme(values.scheme);
  const keys = readSecrets(values.secret, values['secret-file'], io.env);
  if (values.ip !== undefined && !scheme.supportsIp) {
    throw new UsageError(`${scheme.name} tokens are never bound to an IP address; drop --ip`);
  }
  const now = parseUnixTime('--now', values.now) ?? nowSeconds();
  const { verdict, path } = checkRequest(positionals[0] ?? '', {
    scheme,
    keys,
    now,
    bindIp: values.ip !== undefined,
    clientIp: values.ip,
  });
  const name = verdictName(verdict);
  if (values.json) {
    io.out(
      JSON.stringify(
        verdict.ok
          ? {
              verdict: name,
              status: 200,
              reason: 'ok',
              scope: verdict.scope,
              signedPath: verdict.signedPath,
              path,
              expires: verdict.expires,
              ttl: verdict.expires - now,
            }
          : { verdict: name, status: verdict.status, reason: verdict.reason, detail: verdict.detail },
      ),
    );
  } else if (verdict.ok) {
    io.out(
      `valid: ${verdict.scope} token for ${verdict.signedPath}, expires ${new Date(verdict.expires * 1000).toISOString()} (in ${verdict.expires - now} s)`,
    );
  } else {
    io.out(`denied: ${verdict.status} ${verdict.reason} (${verdict.detail})`);
  }
  return verdict.ok ? 0 : 1;
}
