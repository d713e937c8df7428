import { parseArgs } from 'node:util';
import { checkRequest } from '../tokens/check.js';
import { createEctokenScheme } from '../tokens/ectoken.js';
import { canonicalIp } from '../tokens/ip.js';
import type { RequestFacts, TokenScheme } from '../tokens/scheme.js';
import { verdictName, type Grant } from '../tokens/verdict.js';
import {
  nowSeconds,
  asUsage,
  KEY_OPTIONS,
  parseParamName,
  parseUnixTime,
  readSecrets,
  refuseFlags,
  requireScheme,
  UsageError,
  type Io,
} from './usage.js';

export const VERIFY_HELP = `Usage: streamgate verify URL --scheme keycdn|gcore|ectoken --secret KEY
                         [--secret KEY2] [--ip ADDR] [--now UNIX] [--json]
                         [ectoken: --country CC --referer R --proto P --host H --ignore-url-case --param NAME]

Checks a signed URL the way the gateway does. Exit status 0 when valid, 1 when denied.

  --secret KEY        accepted key, repeatable for rotation (or --secret-file FILE, STREAMGATE_SECRET);
                      ectoken: the primary and the backup key
  --ip ADDR           the client address; the token must be bound to it (ectoken: checked against
                      ec_clientip)
  --now UNIX          check at this time instead of the clock
  --json              print one JSON line: {"verdict":"valid|invalid|expired|bad_request","status":…,
                      "reason":…, …}; a token without expiry has "expires":null

ectoken only (the request facts its access rules are checked against):
  --country CC        the viewer's country (ISO 3166); unknown when not given
  --referer R         the Referer header; absent when not given
  --proto P           http or https (default: the URL's scheme when URL is absolute)
  --host H            the host the request named (default: the URL's host when URL is absolute)
  --ignore-url-case   compare ec_url_allow without case (the zone's "ignore URL case")
  --param NAME        the query parameter carrying the token (default: token; a bare ?<token> also works)`;

const FACT_FLAGS = ['country', 'referer', 'proto', 'host', 'ignore-url-case', 'param'] as const;

const ABSOLUTE = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//;

function factsFrom(
  target: string,
  values: { country?: string; referer?: string; proto?: string; host?: string },
): Omit<RequestFacts, 'clientAddress'> {
  let url: URL | undefined;
  if (ABSOLUTE.test(target)) {
    try {
      url = new URL(target);
    } catch {
      url = undefined;
    }
  }
  const country = values.country;
  if (country !== undefined && !/^[A-Za-z]{2}$/.test(country)) {
    throw new UsageError(`--country must be a two-letter ISO 3166 code, got "${country}"`);
  }
  const proto = values.proto ?? url?.protocol.slice(0, -1);
  if (values.proto !== undefined && proto !== 'http' && proto !== 'https') {
    throw new UsageError(`--proto must be http or https, got "${values.proto}"`);
  }
  const host = values.host ?? url?.hostname;
  if (values.host !== undefined && (host === '' || /[/\s]/.test(values.host))) {
    throw new UsageError(`--host must be a host name, got "${values.host}"`);
  }
  return {
    ...(country === undefined ? {} : { country: () => country }),
    ...(values.referer === undefined ? {} : { referer: values.referer }),
    ...(proto === 'http' || proto === 'https' ? { proto } : {}),
    ...(host === undefined || host === '' ? {} : { host: host.toLowerCase() }),
  };
}

function describeGrant(grant: Grant, now: number): string {
  const what =
    grant.scope === 'prefix' && grant.prefixes !== undefined
      ? `prefix token for ${grant.prefixes.join(', ')}`
      : `${grant.scope} token for ${grant.signedPath}`;
  const when = Number.isFinite(grant.expires)
    ? `expires ${new Date(grant.expires * 1000).toISOString()} (in ${grant.expires - now} s)`
    : 'expires never';
  return `valid: ${what}, ${when}`;
}

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
        country: { type: 'string' },
        referer: { type: 'string' },
        proto: { type: 'string' },
        host: { type: 'string' },
        'ignore-url-case': { type: 'boolean' },
        param: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }),
  );
  if (values.help) {
    io.out(VERIFY_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('verify takes exactly one URL');
  const target = positionals[0] ?? '';
  let scheme: TokenScheme = requireScheme(values.scheme);
  const keys = readSecrets(values.secret, values['secret-file'], io.env);
  if (values.ip !== undefined && !scheme.supportsIp) {
    throw new UsageError(`${scheme.name} tokens are never bound to an IP address; drop --ip`);
  }
  const now = parseUnixTime('--now', values.now) ?? nowSeconds();
  let facts: Omit<RequestFacts, 'clientAddress'> | undefined;
  let bindIp = values.ip !== undefined;
  if (scheme.name === 'ectoken') {
    if (values.ip !== undefined && canonicalIp(values.ip) === undefined) {
      throw new UsageError(`--ip must be an IPv4 or IPv6 address, got "${values.ip}"`);
    }
    // An ectoken carries its own ec_clientip rule; the zone does not bind it (config refuses bindIp).
    bindIp = false;
    facts = factsFrom(target, values);
    scheme = createEctokenScheme({
      param: parseParamName(values.param),
      ignoreUrlCase: values['ignore-url-case'] ?? false,
    });
  } else {
    refuseFlags(values, FACT_FLAGS, `for --scheme ectoken only; ${scheme.name} tokens carry no access rules`);
  }
  const { verdict, path } = checkRequest(target, {
    scheme,
    keys,
    now,
    bindIp,
    clientIp: values.ip,
    ...(facts === undefined ? {} : { facts }),
  });
  const name = verdictName(verdict);
  if (values.json) {
    // JSON has no Infinity: a token without expiry says null, as its ttl does.
    const finite = verdict.ok && Number.isFinite(verdict.expires);
    io.out(
      JSON.stringify(
        verdict.ok
          ? {
              verdict: name,
              status: 200,
              reason: 'ok',
              scope: verdict.scope,
              signedPath: verdict.signedPath,
              ...(verdict.prefixes === undefined ? {} : { prefixes: verdict.prefixes }),
              path,
              expires: finite ? verdict.expires : null,
              ttl: finite ? verdict.expires - now : null,
            }
          : { verdict: name, status: verdict.status, reason: verdict.reason, detail: verdict.detail },
      ),
    );
  } else if (verdict.ok) {
    io.out(describeGrant(verdict, now));
  } else {
    io.out(`denied: ${verdict.status} ${verdict.reason} (${verdict.detail})`);
  }
  return verdict.ok ? 0 : 1;
}
