/**
 * What the strategy tests share: one signed manifest request per strategy, the real tokenizer, and a
 * judge that checks every URI a player will request from a rewritten manifest by running the verifier
 * on it (README "Token rules", "The token strategies"), never by comparing token strings. The URI scanners live next to the tests
 * (strategies-hls.test.ts, strategies-dash.test.ts) and share no code with the rewriters.
 */
import { expect } from 'vitest';
import type { Tokenizer } from '../../src/manifest/types.js';
import { checkRequest, type CheckOptions } from '../../src/tokens/check.js';
import { canonicalRequestPath, directoryOf } from '../../src/tokens/path.js';
import { createEctokenScheme } from '../../src/tokens/ectoken.js';
import { readFileSync } from 'node:fs';
import { createAkamaiScheme } from '../../src/tokens/akamai.js';
import { createBunnyScheme } from '../../src/tokens/bunny.js';
import { createCloudfrontScheme } from '../../src/tokens/cloudfront.js';
import { createJwtScheme } from '../../src/tokens/jwt.js';
import { SCHEMES } from '../../src/tokens/registry.js';
import type { TokenScheme } from '../../src/tokens/scheme.js';
import { signTarget, type SignScope } from '../../src/tokens/sign.js';
import {
  createTokenizer,
  resolutionBase,
  type ForwardUncovered,
  type TokenStrategy,
} from '../../src/tokens/strategy.js';
import type { Grant, TokenScope, Verdict } from '../../src/tokens/verdict.js';

export const GATEWAY = 'https://gw.example';
export const SECRET = 'strategy-suite-secret';
/** Azure keys are letters and digits only. */
export const ECTOKEN_SECRET = 'strategySuiteSecret2026';
/** Akamai keys are hex. */
export const AKAMAI_SECRET = '5eed5eed5eed5eed5eed5eed5eed5eed';
export const NOW = 1_700_000_000;
export const PLAYLIST_TTL = 14_400;
export const SEGMENT_TTL = 60;
/** The manifest link's own lifetime, unlike both TTLs: an inherited expiry is told from a minted one. */
export const LINK_TTL = 3_600;
export const CLIENT_IP = '203.0.113.7';
export const OTHER_IP = '198.51.100.23';

export const STRATEGIES: readonly TokenStrategy[] = ['forward', 'mint', 'path'];

function vectorKey(name: string): string {
  return readFileSync(new URL(`../vectors/keys/${name}`, import.meta.url), 'utf8');
}

export interface Run {
  readonly label: string;
  readonly scheme: TokenScheme;
  /** The viewer's address when the zone binds tokens to IPs (ectoken: the link's ec_clientip). */
  readonly ip?: string;
  readonly secret?: string;
  /**
   * The scope of the viewer's manifest link per strategy where it is not the MD5 schemes' (file,
   * directory, path) nor ectoken's prefix: an Akamai URL token opens one file.
   */
  readonly scopes?: Partial<Record<TokenStrategy, TokenScope>>;
  /** Extra signed fields of the viewer's link (Bunny: token_ignore_params, so forward can copy it). */
  readonly linkRules?: ReadonlyArray<readonly [string, string]>;
  /** The denial a token bound to the viewer gets from another address (default by the scheme's kind). */
  readonly otherIpReason?: 'invalid' | 'rule';
}

export const RUNS: readonly Run[] = [
  { label: 'gcore', scheme: SCHEMES.gcore },
  { label: 'gcore bound to the viewer IP', scheme: SCHEMES.gcore, ip: CLIENT_IP },
  { label: 'keycdn', scheme: SCHEMES.keycdn },
  { label: 'ectoken', scheme: createEctokenScheme(), secret: ECTOKEN_SECRET },
  {
    label: 'ectoken with ec_clientip, renamed parameter',
    scheme: createEctokenScheme({ param: 'ectk' }),
    secret: ECTOKEN_SECRET,
    ip: CLIENT_IP,
  },
  // Akamai: a directory ACL (`/dir/*`) for forward, URL tokens for mint.
  { label: 'akamai', scheme: createAkamaiScheme(), secret: AKAMAI_SECRET, scopes: { mint: 'file' } },
  {
    label: 'akamai hdnts, SHA-1, salt, bound to the viewer IP',
    scheme: createAkamaiScheme({ param: 'hdnts', algorithm: 'sha1', salt: 'suite-salt' }),
    secret: AKAMAI_SECRET,
    ip: CLIENT_IP,
    scopes: { mint: 'file' },
  },
  // CloudFront: a custom policy on …/dir/* for forward, a canned one for the mint link; mint signs one
  // custom policy per directory (RSA).
  {
    label: 'cloudfront, bound to the viewer IP',
    scheme: createCloudfrontScheme({
      keyPairs: [{ id: 'KA1B2C3D4E5F6', publicKey: vectorKey('cloudfront-a.public.pem') }],
      privateKey: vectorKey('cloudfront-a.private.pem'),
      algorithm: 'sha256',
    }),
    ip: CLIENT_IP,
    scopes: { mint: 'file' },
  },
  // Bunny: token_path for forward, a file token for mint, `/bcdn_token=…/` for path; the link signs
  // with token_ignore_params so that nested URIs, which carry queries of their own, can share it.
  {
    label: 'bunny, IP-locked',
    scheme: createBunnyScheme(),
    ip: CLIENT_IP,
    linkRules: [['token_ignore_params', 'true']],
    scopes: { mint: 'file', path: 'path' },
    otherIpReason: 'invalid',
  },
  // JWT: a prefix claim for forward, a path claim for mint, an ip claim for the viewer; no leeway,
  // so that the judge's expiry checks hold to the second.
  {
    label: 'jwt HS256, ip claim',
    scheme: createJwtScheme({ leeway: 0, algorithms: ['HS256'] }),
    ip: CLIENT_IP,
    scopes: { mint: 'file' },
  },
  {
    label: 'jwt ES256 (minted per directory)',
    scheme: createJwtScheme({
      leeway: 0,
      publicKeys: [{ key: vectorKey('jwt-p256-1.public.pem') }],
      privateKey: vectorKey('jwt-p256-1.private.pem'),
    }),
    scopes: { mint: 'file' },
  },
];

/** The runs a strategy applies to: ectoken carries its scope in ec_url_allow, never in the path. */
export function runsFor(strategy: TokenStrategy): ReadonlyArray<readonly [string, Run]> {
  return RUNS.filter((run) => strategy !== 'path' || run.scheme.capabilities.pathForm).map((run) => [
    run.label,
    run,
  ]);
}

const secretOf = (run: Run): string => run.secret ?? SECRET;

/** Names of the query parameters that carry a scheme's token. */
function tokenNames(scheme: TokenScheme): string[] {
  return [...scheme.transports.query];
}

/** README "The token strategies": forward copies a directory token, mint starts from a file token, path embeds one in the path. */
const INCOMING_SCOPE: Readonly<Record<TokenStrategy, SignScope>> = {
  forward: 'directory',
  mint: 'file',
  path: 'path',
  cookie: 'directory',
};

export function checkOptions(run: Run, now: number, clientIp = run.ip): CheckOptions {
  return {
    scheme: run.scheme,
    keys: [secretOf(run)],
    now,
    // The gateway's own address: formats that sign whole URLs (CloudFront) compare it.
    facts: { proto: 'https', host: 'gw.example', authority: 'gw.example' },
    ...(run.ip === undefined ? {} : { bindIp: run.scheme.capabilities.ip === 'zone', clientIp }),
  };
}

export interface SignedManifest {
  /** The URL the viewer requested the manifest at, token included. */
  readonly url: URL;
  /** What the gateway hands the rewriter as the manifest URL: `url` without a path token. */
  readonly rewriteBase: URL;
  /** The verifier's verdict for that request: what the tokenizer starts from. */
  readonly grant: Grant;
}

/** Signs `plainUrl` the way the strategy expects the viewer's link, and checks it like the gateway. */
export function signManifest(plainUrl: string, strategy: TokenStrategy, run: Run): SignedManifest {
  const signed = signTarget(plainUrl, {
    scheme: run.scheme,
    secret: secretOf(run),
    expires: NOW + LINK_TTL,
    scope: INCOMING_SCOPE[strategy],
    ...(run.ip === undefined ? {} : { ip: run.ip }),
    ...(run.linkRules === undefined ? {} : { rules: run.linkRules }),
  });
  const verdict = checkRequest(signed, checkOptions(run, NOW)).verdict;
  expect(verdict.ok, `the manifest link ${signed} must verify`).toBe(true);
  const grant = verdict as Grant;
  // An ectoken's ec_url_allow is a prefix: the directory's, or the file's own path.
  expect(grant.scope).toBe(
    run.scopes?.[strategy] ?? (run.scheme.pathTokens ? INCOMING_SCOPE[strategy] : 'prefix'),
  );
  return { url: new URL(signed), rewriteBase: new URL(resolutionBase(signed, grant)), grant };
}

export function tokenizerFor(
  strategy: TokenStrategy,
  run: Run,
  grant: Grant,
  staticManifest: boolean,
  upstreamOrigin?: string,
  forwardUncovered?: ForwardUncovered,
): Tokenizer {
  return createTokenizer({
    strategy,
    scheme: run.scheme,
    signingKey: secretOf(run),
    incoming: grant,
    now: NOW,
    playlistTtl: PLAYLIST_TTL,
    segmentTtl: SEGMENT_TTL,
    staticManifest,
    publicOrigin: GATEWAY,
    ...(upstreamOrigin === undefined ? {} : { upstreamOrigin }),
    ...(forwardUncovered === undefined ? {} : { forwardUncovered }),
  });
}

// ---------------------------------------------------------------------------------------------------

/** One URI site found by a test scanner, with the URLs a player requests from it. */
export interface FoundSite {
  /** Where it sits, e.g. `segment`, `EXT-X-MAP@URI`, `SegmentTemplate@media`. */
  readonly site: string;
  /** The value as written (XML-decoded, trimmed). */
  readonly raw: string;
  /** Reloaded by the player (mint: the playlist lifetime, README "The token strategies"). */
  readonly playlist: boolean;
  /**
   * The absolute http(s) URLs requested for it: one, or a template's first, middle and last segment
   * for each Representation. Empty when the value names no http(s) resource (`data:`, `skd:`, an
   * undefined variable): such a value must come out unchanged.
   */
  readonly urls: readonly URL[];
  /**
   * The same URI resolved through the other BaseURL alternatives (DASH §5.6.5): what a player requests
   * after failing over to another CDN.
   */
  readonly failoverUrls?: readonly URL[];
  /** A BaseURL naming a directory: never requested itself, only a base for others. */
  readonly directory?: boolean;
  /**
   * A template whose directory differs per Representation (`$RepresentationID$/…` shared by several):
   * no single directory token covers it; a token for the directory above it does, in path form.
   */
  readonly templatedDirectory?: boolean;
  /**
   * A value the viewer wrote (an HLS QUERYPARAM variable) decides the URI's host or path: a token only
   * for what the viewer's own token opens, whatever the strategy.
   */
  readonly viewerControlled?: boolean;
}

/** README "Token rules": `~{token}~{expires}` is a path segment of its own; `~` is not base64url. Bunny: `bcdn_token=…`. */
const PATH_TOKEN_SEGMENT = /^(?:~[^/~]*~[^/~]*|bcdn_token=[^/]*)$/;

function queryPairs(url: URL): string[] {
  return url.search === '' ? [] : url.search.slice(1).split('&');
}

function pairName(pair: string): string {
  const eq = pair.indexOf('=');
  const name = eq === -1 ? pair : pair.slice(0, eq);
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    return name;
  }
}

export function carriesToken(url: URL, scheme: TokenScheme): boolean {
  const names = tokenNames(scheme);
  if (queryPairs(url).some((pair) => names.includes(pairName(pair)))) return true;
  return url.pathname.split('/').some((segment) => PATH_TOKEN_SEGMENT.test(segment));
}

/** Path and query of a URL with any token of `scheme` taken out: the resource the origin is asked for. */
export function resourceOf(url: URL, scheme: TokenScheme): string {
  const names = tokenNames(scheme);
  const path = url.pathname
    .split('/')
    .filter((segment) => !PATH_TOKEN_SEGMENT.test(segment))
    .join('/');
  const query = queryPairs(url)
    .filter((pair) => pair !== '' && !names.includes(pairName(pair)))
    .join('&');
  return query === '' ? path : `${path}?${query}`;
}

/**
 * Removes token parameters and path-token segments from any text (values read back by m3u8-parser or
 * fast-xml-parser), leaving every other byte.
 */
export function withoutTokens(value: string, scheme: TokenScheme): string {
  const names = tokenNames(scheme).join('|');
  return (
    value
      .replace(/\/bcdn_token=[^/]*(?=\/)/g, '')
      .replace(new RegExp(`([?&])(?:${names})=[^&#"\\s]*`, 'g'), '$1')
      .replace(/&&+/g, '&')
      .replace(/\?&/g, '?')
      .replace(/[?&]+(?=#|$|\s)/g, '')
      // A path token in a path, or at the start of a relative reference (`~TOKEN~EXPIRES/seg.m4s`).
      .replace(/(^|\/|\s)~[A-Za-z0-9_-]*~[0-9]+\//g, '$1')
  );
}

export interface JudgeContext {
  readonly strategy: TokenStrategy;
  readonly run: Run;
  readonly grant: Grant;
  /** Whether the test's own reading finds the manifest static (loaded once: media get the playlist TTL). */
  readonly staticManifest: boolean;
  /** The upstream origin the tokenizer was told about: its absolute URIs count as the gateway's. */
  readonly upstreamOrigin?: string;
}

export interface Judgement {
  /** Requested URLs on the gateway (or the upstream origin) the judge looked at. */
  readonly sameHost: number;
  /** URLs that carry a token. */
  readonly tokened: number;
  /** URLs whose token the verifier accepted with every check below passing. */
  readonly verified: number;
  /** URLs the strategy must give a token to. */
  readonly required: number;
  /** Each broken rule, as `rule: site raw → requested URL (detail)`. */
  readonly violations: readonly string[];
}

function decodedPath(url: URL): string | undefined {
  const checked = canonicalRequestPath(url.pathname);
  return checked.ok ? checked.path : undefined;
}

/** Whether the viewer's own token opens `path` (the scopes of README "Token rules"; Edgecast prefixes). */
function incomingOpens(grant: Grant, path: string): boolean {
  switch (grant.scope) {
    case 'file':
      return path === grant.signedPath;
    case 'directory':
      return directoryOf(path) === grant.signedPath;
    case 'path':
      return path.startsWith(grant.signedPath);
    case 'prefix':
      return (grant.prefixes ?? []).some((prefix) => path.startsWith(prefix));
  }
}

/** Whether the README's strategies say the strategy must give the URL a token. */
function required(
  context: JudgeContext,
  site: FoundSite,
  intended: URL,
  gatewayOrigins: ReadonlySet<string>,
): boolean {
  // A path the gateway refuses (400) could never be opened, whatever token it carried.
  const path = decodedPath(intended);
  if (path === undefined) return false;
  const { grant } = context;
  // README "The token strategies": a query token below a foreign BaseURL alternative would reach that host on failover, so
  // forward and mint must leave such a URI alone (path tokens live in the gateway's BaseURL only).
  const failsOverAbroad = (site.failoverUrls ?? []).some((url) => !gatewayOrigins.has(url.origin));
  if (failsOverAbroad && context.strategy !== 'path') return false;
  if (site.viewerControlled === true && !incomingOpens(grant, path)) return false;
  switch (context.strategy) {
    case 'forward':
      // Edgecast: ec_url_allow is a plain string prefix of the path.
      if (grant.scope === 'prefix') return (grant.prefixes ?? []).some((prefix) => path.startsWith(prefix));
      return directoryOf(path) === grant.signedPath;
    case 'mint':
      // A templated directory too: a token for the directory above it, in path form or as a prefix.
      return true;
    case 'path':
      return path.startsWith(grant.signedPath);
    case 'cookie':
      return false;
  }
}

function expectedExpiry(context: JudgeContext, site: FoundSite): number {
  if (context.strategy !== 'mint') return context.grant.expires;
  return NOW + (site.playlist || context.staticManifest ? PLAYLIST_TTL : SEGMENT_TTL);
}

function describeVerdict(verdict: Verdict): string {
  return verdict.ok ? 'ok' : `${verdict.status} ${verdict.reason}: ${verdict.detail}`;
}

/**
 * Pairs the sites of the input (resolved against the unsigned manifest URL: what the origin meant)
 * with those of the output (resolved against the URL the viewer requested: what the player will ask
 * for) and checks each requested URL:
 * - a foreign URI, or one naming no http(s) resource, comes out byte for byte as it went in;
 * - a token is never sent to a host other than the gateway, not even on BaseURL failover;
 * - the URL still names the resource the origin meant, once its token is taken out;
 * - where the strategy must give a token, one is there; forward and path give none outside their scope;
 * - every token the URL carries is accepted by the verifier just after `now`, still at one second
 *   before its expected expiry and answered 410 at it, and refused (403) from another IP when bound.
 */
export function judge(
  input: readonly FoundSite[],
  output: readonly FoundSite[],
  context: JudgeContext,
): Judgement {
  const { run } = context;
  const gatewayOrigins = new Set([GATEWAY, ...(context.upstreamOrigin ? [context.upstreamOrigin] : [])]);
  const violations: string[] = [];
  let sameHost = 0;
  let tokened = 0;
  let verified = 0;
  let requiredCount = 0;
  if (output.length !== input.length) {
    violations.push(`site count: ${input.length} in the input, ${output.length} in the output`);
    return { sameHost, tokened, verified, required: requiredCount, violations };
  }

  input.forEach((before, index) => {
    const after = output[index]!;
    const where = `${before.site} ${before.raw}`;
    if (after.site !== before.site) violations.push(`site order: ${where} became ${after.site}`);
    const foreign = before.urls.every((url) => !gatewayOrigins.has(url.origin));
    if (foreign) {
      if (after.raw !== before.raw) violations.push(`changed a URI the gateway does not serve: ${where}`);
      return;
    }
    if (after.urls.length !== before.urls.length) {
      violations.push(`expansion count: ${where}`);
      return;
    }
    for (const failover of after.failoverUrls ?? []) {
      if (failover.origin !== GATEWAY && carriesToken(failover, run.scheme)) {
        violations.push(`token sent to another host on BaseURL failover: ${where} → ${failover.href}`);
      }
    }
    if (before.directory) return;
    before.urls.forEach((intended, j) => {
      const played = after.urls[j]!;
      const fail = (rule: string, detail = ''): void => {
        violations.push(`${rule}: ${where} → ${played.href}${detail === '' ? '' : ` (${detail})`}`);
      };
      if (!gatewayOrigins.has(intended.origin)) return;
      sameHost += 1;
      const carries = carriesToken(played, run.scheme);
      if (carries) tokened += 1;
      if (carries && played.origin !== GATEWAY) {
        fail('token sent to another host than the gateway');
        return;
      }
      if (resourceOf(played, run.scheme) !== resourceOf(intended, run.scheme)) {
        fail('names another resource than the origin meant', resourceOf(intended, run.scheme));
      }
      const must = required(context, before, intended, gatewayOrigins);
      if (must) requiredCount += 1;
      if (must && !carries) fail('no token');
      if (!must && carries && (context.strategy !== 'mint' || before.viewerControlled === true)) {
        fail('token outside the incoming scope');
      }
      if (!carries) return;

      const at = (now: number, ip?: string): Verdict =>
        checkRequest(played.href, checkOptions(run, now, ip)).verdict;
      const first = at(NOW + 1);
      if (!first.ok) {
        fail('token refused', describeVerdict(first));
        return;
      }
      const expires = expectedExpiry(context, before);
      const lastSecond = at(expires - 1);
      const atExpiry = at(expires);
      const afterSegmentTtl = at(NOW + SEGMENT_TTL);
      let good = true;
      if (!lastSecond.ok) {
        fail(`refused one second before the expected expiry ${expires}`, describeVerdict(lastSecond));
        good = false;
      }
      if (atExpiry.ok || atExpiry.status !== 410) {
        fail(`not 410 at the expected expiry ${expires}`, describeVerdict(atExpiry));
        good = false;
      }
      if (afterSegmentTtl.ok !== NOW + SEGMENT_TTL < expires) {
        fail('wrong verdict at now + segmentTtl', describeVerdict(afterSegmentTtl));
        good = false;
      }
      if (run.ip !== undefined) {
        const elsewhere = at(NOW + 1, OTHER_IP);
        // An MD5 signature over the IP no longer matches; an ectoken's ec_clientip rule refuses, and
        // so does an Akamai token's ip field.
        if (
          elsewhere.ok ||
          elsewhere.reason !==
            (run.otherIpReason ?? (run.scheme.capabilities.ip === 'zone' ? 'invalid' : 'rule'))
        ) {
          fail('an IP-bound token opens for another IP', describeVerdict(elsewhere));
          good = false;
        }
      }
      if (good) verified += 1;
    });
  });
  return { sameHost, tokened, verified, required: requiredCount, violations };
}

/** Resolves a reference like a player (RFC 3986 §5); only http(s) URLs are requested from a host. */
export function resolveHttp(reference: string, base: URL | undefined): URL | undefined {
  if (base === undefined && !/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(reference)) return undefined;
  try {
    const url = new URL(reference, base);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A defect in src/ that the judge reports today, pinned so the suite stays green while it is open:
 * the violations it causes must all be present, and nothing else may be. When it is fixed, its entries
 * fail and must be removed.
 */
export interface KnownDefect {
  readonly label: string;
  readonly strategy: TokenStrategy;
  /** The start of the violation the judge reports: `rule: site raw`. */
  readonly violation: string;
}

export function knownDefects(
  label: string,
  strategy: TokenStrategy,
  rule: string,
  sites: readonly string[],
): KnownDefect[] {
  return sites.map((site) => ({ label, strategy, violation: `${rule}: ${site}` }));
}

/** `rule: site raw → url (detail)` → `site raw`. */
function siteOf(violation: string): string {
  const rest = violation.slice(violation.indexOf(': ') + 2);
  const arrow = rest.indexOf(' → ');
  return arrow === -1 ? rest : rest.slice(0, arrow);
}

export interface NoTokens {
  readonly strategies: readonly TokenStrategy[];
  readonly why: string;
  /**
   * The URIs sit in subdirectories of the manifest's: a directory token does not open them, an
   * ectoken's ec_url_allow prefix does, so forward gives them the viewer's ectoken.
   */
  readonly belowDirectory?: boolean;
}

/**
 * The verdict on one manifest × strategy × run: exactly the known violations; then either no token at
 * all where that is expected (with the reason), or at least one verified token, every token verified
 * and every URL that needed one given one.
 */
export function expectJudgement(
  judgement: Judgement,
  label: string,
  strategy: TokenStrategy,
  known: readonly KnownDefect[],
  noTokens: NoTokens | undefined,
  run?: Run,
): void {
  const none =
    noTokens?.belowDirectory && strategy === 'forward' && run !== undefined && !run.scheme.pathTokens
      ? undefined
      : noTokens;
  const mine = known.filter((k) => k.label === label && k.strategy === strategy);
  // A path token in the first segment (Bunny) rides along on a relative URI that climbs out of the
  // signed directory, which the gateway then refuses: the same known sites, seen as other rules.
  const firstSegment = run?.scheme.transports.pathPrefix !== undefined;
  const explains = (v: string, k: KnownDefect): boolean =>
    v.startsWith(k.violation) || (firstSegment && siteOf(v) === siteOf(k.violation));
  const unexplained = judgement.violations.filter((v) => !mine.some((k) => explains(v, k)));
  expect(unexplained.join('\n')).toBe('');
  for (const defect of mine) {
    expect(
      judgement.violations.some((v) => explains(v, defect)),
      `known defect no longer seen (remove it): ${defect.violation}`,
    ).toBe(true);
  }
  if (none?.strategies.includes(strategy)) {
    expect(judgement.tokened, none.why).toBe(0);
    expect(judgement.required, none.why).toBe(0);
  } else if (mine.length > 0) {
    expect(judgement.tokened).toBeGreaterThan(0);
  } else {
    expect(judgement.verified).toBeGreaterThan(0);
    expect(judgement.verified).toBe(judgement.tokened);
    expect(judgement.verified).toBeGreaterThanOrEqual(judgement.required);
  }
}
