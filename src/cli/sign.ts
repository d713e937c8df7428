import { parseArgs } from 'node:util';
import { createEctokenScheme, ectokenRules, type EctokenRules } from '../tokens/ectoken.js';
import type { TokenScheme } from '../tokens/scheme.js';
import { SignError, signTarget } from '../tokens/sign.js';
import {
  nowSeconds,
  asUsage,
  KEY_OPTIONS,
  parseParamName,
  parseSeconds,
  parseUnixTime,
  readSecrets,
  refuseFlags,
  requireScheme,
  UsageError,
  type Io,
} from './usage.js';

export const SIGN_HELP = `Usage: streamgate sign PATH_OR_URL --scheme keycdn|gcore|ectoken --secret KEY
                       (--ttl S | --expires UNIX) [--ip ADDR] [--dir] [--path-token] [--now UNIX]
                       [ectoken rules: --url-allow L --country-allow L --country-deny L --ref-allow L
                        --ref-deny L --proto-allow L --proto-deny L --host-allow L --host-deny L
                        --client-ip A --param NAME]

Prints the signed URL on one line.

  --scheme S          token format: keycdn (?token=&expire=), gcore (?md5=&expires=) or ectoken
                      (Edgecast / Azure CDN Premium v3, ?token=<AES-256-GCM of ec_* rules>)
  --secret KEY        signing key (or --secret-file FILE, or STREAMGATE_SECRET in the environment);
                      an ectoken key is 1–250 letters and digits
  --ttl S             lifetime in seconds from now
  --expires UNIX      absolute expiry, Unix seconds
  --ip ADDR           bind the token to this client address (gcore, ectoken; IPv4 or IPv6)
  --dir               sign the directory holding the path; the URL opens every file directly in it
                      (ectoken: ec_url_allow is that directory, so its whole subtree opens)
  --path-token        embed a directory token in the path (/dir/~token~expires/file): opens the subtree
                      (keycdn, gcore)
  --now UNIX          the time --ttl counts from (default: the clock)

ectoken only (L is a comma-separated list; allow wins where a value is in both lists):
  --url-allow L       path prefixes the token opens (default: the signed path; "/" opens everything)
  --country-allow L   ISO 3166 codes (US,CA); --country-deny L refuses those
  --ref-allow L       referrers: host or host/path, *.example.com for subdomains, "missing" (or a blank
                      entry) for no referrer; --ref-deny L refuses those
  --proto-allow L     http, https; --proto-deny L refuses those
  --host-allow L      host names the request may name, *.example.com for subdomains; --host-deny L
  --client-ip A       an address or CIDR range (same as --ip for ectoken; give one of them)
  --param NAME        the query parameter carrying the token (default: token)

Examples:
  streamgate sign /videos/video-1/master.m3u8 --scheme gcore --dir --ttl 120 --secret-file key.txt
  streamgate sign /videos/video-1/master.m3u8 --scheme ectoken --dir --ttl 3600 --secret-file key.txt \\
    --country-allow US,CA --ref-allow www.example.com,missing --proto-allow https`;

const RULE_FLAGS = [
  'url-allow',
  'country-allow',
  'country-deny',
  'ref-allow',
  'ref-deny',
  'proto-allow',
  'proto-deny',
  'host-allow',
  'host-deny',
  'client-ip',
  'param',
] as const;

type RuleFlag = (typeof RULE_FLAGS)[number];

const listOf = (value: string | undefined): string[] | undefined =>
  value?.split(',').map((entry) => entry.trim());

/** The rule flags as ectokenRules takes them; its own checks say what is wrong with an entry. */
function rulesFrom(values: Partial<Record<RuleFlag, string>>, ip: string | undefined): EctokenRules {
  const clientIp = values['client-ip'] ?? ip;
  return {
    urlAllow: listOf(values['url-allow']),
    countryAllow: listOf(values['country-allow']),
    countryDeny: listOf(values['country-deny']),
    refAllow: listOf(values['ref-allow']),
    refDeny: listOf(values['ref-deny']),
    protoAllow: listOf(values['proto-allow']) as EctokenRules['protoAllow'],
    protoDeny: listOf(values['proto-deny']) as EctokenRules['protoDeny'],
    hostAllow: listOf(values['host-allow']),
    hostDeny: listOf(values['host-deny']),
    ...(clientIp === undefined ? {} : { clientIp }),
  };
}

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
        ...Object.fromEntries(RULE_FLAGS.map((flag) => [flag, { type: 'string' } as const])),
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (values.help) {
    io.out(SIGN_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('sign takes exactly one PATH_OR_URL');
  let scheme: TokenScheme = requireScheme(values.scheme);
  const [secret] = readSecrets(values.secret, values['secret-file'], io.env);
  const ttl = parseSeconds('--ttl', values.ttl);
  const expiresFlag = parseUnixTime('--expires', values.expires);
  if ((ttl === undefined) === (expiresFlag === undefined))
    throw new UsageError('give exactly one of --ttl and --expires');
  if (values.dir && values['path-token']) throw new UsageError('--dir and --path-token exclude each other');
  const expires = expiresFlag ?? (parseUnixTime('--now', values.now) ?? nowSeconds()) + (ttl ?? 0);

  const ruleValues = values as Partial<Record<RuleFlag, string>>;
  let ip = values.ip;
  let rules: ReadonlyArray<readonly [string, string]> | undefined;
  if (scheme.name === 'ectoken') {
    if (ip !== undefined && ruleValues['client-ip'] !== undefined) {
      throw new UsageError('--ip and --client-ip both set ec_clientip; give one of them');
    }
    if (values.dir && ruleValues['url-allow'] !== undefined) {
      throw new UsageError('--url-allow names what the token opens; drop --dir');
    }
    const built = ectokenRules(rulesFrom(ruleValues, ip));
    if (!built.ok) throw new UsageError(built.problem);
    rules = built.pairs;
    // ectokenRules also takes a CIDR range, which the scheme's own `ip` (one address) cannot.
    ip = undefined;
    scheme = createEctokenScheme({ param: parseParamName(ruleValues.param) });
  } else {
    refuseFlags(values, RULE_FLAGS, `for --scheme ectoken only; ${scheme.name} tokens carry no access rules`);
  }
  try {
    io.out(
      signTarget(positionals[0] ?? '', {
        scheme,
        secret: secret ?? '',
        expires,
        ip,
        scope: values['path-token'] ? 'path' : values.dir ? 'directory' : 'file',
        ...(rules === undefined ? {} : { rules }),
      }),
    );
  } catch (error) {
    if (error instanceof SignError) throw new UsageError(error.message);
    throw error;
  }
  return 0;
}
