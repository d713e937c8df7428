import { parseArgs } from 'node:util';
import { canonicalIp } from '../tokens/ip.js';
import { verifyWith } from '../tokens/operations.js';
import type { RequestFacts } from '../tokens/scheme.js';
import { SignError } from '../tokens/sign.js';
import { verdictName, type Grant } from '../tokens/verdict.js';
import {
  nowSeconds,
  asUsage,
  KEY_OPTIONS,
  parseUnixTime,
  readSecrets,
  requireDefinition,
  SCHEME_CHOICES,
  schemeFlagHelp,
  schemeFlagOptions,
  schemeOptionsFromFlags,
  UsageError,
  type Io,
} from './usage.js';

export const VERIFY_HELP = `Usage: streamgate verify URL --scheme ${SCHEME_CHOICES} --secret KEY
                         [--secret KEY2] [--ip ADDR] [--cookie 'NAME=VALUE']... [--now UNIX] [--json]
                         [scheme flags, below]

Checks a signed URL the way the gateway does. Exit status 0 when valid, 1 when denied.

  --secret KEY        accepted key, repeatable for rotation (or --secret-file FILE, STREAMGATE_SECRET);
                      ectoken: the primary and the backup key
  --ip ADDR           the client address; the token must be bound to it (ectoken: checked against
                      ec_clientip)
  --cookie N=V        a cookie the request carries (schemes whose tokens travel in cookies), repeatable
  --now UNIX          check at this time instead of the clock
  --json              print one JSON line: {"verdict":"valid|invalid|expired|bad_request","status":…,
                      "reason":…, …}; a token without expiry has "expires":null

Scheme flags (ectoken and other rule-carrying schemes: the request facts their rules are checked against):

${schemeFlagHelp('verify')}`;

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
    ...(url === undefined || values.host !== undefined ? {} : { authority: url.host }),
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
        ...schemeFlagOptions('verify'),
        ...KEY_OPTIONS,
        ip: { type: 'string' },
        now: { type: 'string' },
        json: { type: 'boolean' },
        cookie: { type: 'string', multiple: true },
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
  const definition = requireDefinition(values.scheme);
  const { facts: factFlags, ...schemeOptions } = schemeOptionsFromFlags(definition, values, 'verify') as {
    facts?: { country?: string; referer?: string; proto?: string; host?: string };
  } & Record<string, unknown>;
  const keys =
    definition.secrets === 'required' || values.secret !== undefined || values['secret-file'] !== undefined
      ? readSecrets(values.secret, values['secret-file'], io.env)
      : [];
  const ipMode = definition.capabilities.ip;
  if (values.ip !== undefined && ipMode === false) {
    throw new UsageError(`${definition.name} tokens are never bound to an IP address; drop --ip`);
  }
  if (values.ip !== undefined && ipMode === 'token' && canonicalIp(values.ip) === undefined) {
    throw new UsageError(`--ip must be an IPv4 or IPv6 address, got "${values.ip}"`);
  }
  if (values.cookie !== undefined && definition.transports.cookies.length === 0) {
    throw new UsageError(`${definition.name} tokens do not travel in cookies; drop --cookie`);
  }
  if (values.cookie?.some((cookie) => !/^[^=;\s]+=[^;]*$/.test(cookie))) {
    throw new UsageError("--cookie must be one NAME=VALUE pair, e.g. --cookie 'hdnts=exp=…~acl=…~hmac=…'");
  }
  const now = parseUnixTime('--now', values.now) ?? nowSeconds();
  const facts = definition.capabilities.rules ? factsFrom(target, factFlags ?? {}) : undefined;
  let checked;
  try {
    checked = verifyWith(
      {
        url: target,
        ...(values.ip === undefined ? {} : { clientIp: values.ip }),
        ...(values.cookie === undefined ? {} : { cookies: values.cookie.join('; ') }),
      },
      {
        ...schemeOptions,
        scheme: definition.name,
        ...(keys.length === 0 ? {} : { secret: keys }),
        // A zone that binds tokens to the viewer: the address is part of what is signed.
        bindIp: values.ip !== undefined && ipMode === 'zone',
        ...(facts === undefined ? {} : { facts }),
      },
      now,
    );
  } catch (error) {
    if (error instanceof SignError) throw new UsageError(error.message);
    throw error;
  }
  const { verdict, path } = checked;
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
