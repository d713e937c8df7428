import { timingSafeEqual } from 'node:crypto';
import { md5Base64Url, md5Bytes } from './crypto.js';
import { directoryOf } from './path.js';
import type { SchemeDefinition } from './definition.js';
import type { PresentedToken, SignTarget, TokenScheme, VerifyContext } from './scheme.js';
import { deny, type TokenScope, type Verdict } from './verdict.js';

/**
 * base64url-nopad of a 16-byte digest is always 22 characters, and the last one carries 2 bits and 4
 * zero bits: `A`, `Q`, `g` or `w`. Any other last character decodes to the same bytes as one of those,
 * so it is refused rather than accepted as a second spelling of the token.
 */
const MD5_TOKEN = /^[A-Za-z0-9_-]{21}[AQgw]$/;
/** Unix seconds without sign, fraction or leading zero, below 10^10 (year 2286). */
const EXPIRY = /^[1-9][0-9]{0,9}$/;

export interface Md5SchemeDefinition {
  readonly name: string;
  readonly params: { readonly token: string; readonly expires: string };
  readonly supportsIp: boolean;
  readonly stringToSign: (target: SignTarget, key: string) => string;
}

/** KeyCDN and Gcore differ only in the string they hash and the parameter names. */
export function createMd5Scheme(definition: Md5SchemeDefinition): TokenScheme {
  const { stringToSign } = definition;
  const sign = (target: SignTarget, key: string): string => md5Base64Url(stringToSign(target, key));

  const signedByAnyKey = (presented: Buffer, target: SignTarget, keys: readonly string[]): boolean => {
    // Every key is tried whatever the outcome, so timing does not tell which key (if any) matched.
    let match = false;
    for (const key of keys) match = timingSafeEqual(md5Bytes(stringToSign(target, key)), presented) || match;
    return match;
  };

  const verify = (presented: PresentedToken, context: VerifyContext): Verdict => {
    if (!MD5_TOKEN.test(presented.token)) return deny('malformed', 'token is not 22 base64url characters');
    if (!EXPIRY.test(presented.expires)) return deny('malformed', 'expiry is not a Unix time in seconds');
    const expires = Number(presented.expires);
    // Digests are compared as bytes: the canonical spelling checked above makes that the same test.
    const presentedBytes = Buffer.from(presented.token, 'base64url');

    const candidates: Array<{ path: string; scope: TokenScope }> =
      presented.pathTokenDirectory !== undefined
        ? [{ path: presented.pathTokenDirectory, scope: 'path' }]
        : [
            { path: context.path, scope: 'file' },
            // Gcore "Query String Forwarding": a token for `/videos/video-1/` opens the files directly in
            // it. Trying `dirname + /` (never a parent further up) keeps subdirectories and siblings out.
            { path: directoryOf(context.path), scope: 'directory' },
          ];

    for (const candidate of candidates) {
      if (candidate.scope === 'directory' && candidate.path === context.path) continue;
      const target: SignTarget = { path: candidate.path, expires, ip: context.ip };
      if (!signedByAnyKey(presentedBytes, target, context.keys)) continue;
      if (!(context.now < expires)) return deny('expired', `expired at ${expires}`);
      return {
        ok: true,
        status: 200,
        expires,
        scope: candidate.scope,
        signedPath: candidate.path,
        token: presented.token,
        ...(context.ip === undefined ? {} : { ip: context.ip }),
      };
    }
    return deny('invalid', context.ip === undefined ? 'signature mismatch' : 'signature mismatch (IP-bound)');
  };

  return {
    name: definition.name,
    params: definition.params,
    supportsIp: definition.supportsIp,
    bareQueryToken: false,
    pathTokens: true,
    directoryScope: 'files',
    transports: {
      query: [definition.params.token, definition.params.expires],
      bareQuery: false,
      pathSegment: true,
      cookies: [],
      headers: [],
    },
    capabilities: {
      ip: definition.supportsIp ? 'zone' : false,
      directory: true,
      pathForm: true,
      rules: false,
    },
    maxTokenLength: 22,
    readsRequestFacts: false,
    stringToSign,
    sign,
    verify,
    covers: (grant, path) =>
      grant.scope === 'file' ? path === grant.signedPath : directoryOf(path) === grant.signedPath,
    coversDirectory: (grant, directory) => {
      if (grant.scope === 'directory') return directory === grant.signedPath;
      return directory === directoryOf(grant.signedPath) ? undefined : false;
    },
    queryParams: (token, expires) => [
      [definition.params.token, token],
      [definition.params.expires, String(expires)],
    ],
  };
}

/** KeyCDN and Gcore as registry entries: no zone block, no flags of their own, shared secrets. */
export function md5Definition<Name extends string>(
  name: Name,
  title: string,
  scheme: TokenScheme,
): SchemeDefinition & { readonly name: Name } {
  const { token, expires } = scheme.params;
  return {
    name,
    title,
    summary: `?${token}=…&${expires}=… (MD5)${scheme.supportsIp ? ', IP binding' : ''}, directory and path tokens`,
    capabilities: scheme.capabilities,
    transports: scheme.transports,
    secrets: 'required',
    create: () => scheme,
    flags: [],
    zoneProblems: (zone) =>
      zone.bindIp && !scheme.supportsIp
        ? [
            [
              'bindIp',
              `the ${name} scheme cannot bind tokens to an IP address; use scheme: gcore or bindIp: false`,
            ],
          ]
        : [],
    prepareSign: (_options, common) => ({
      scheme,
      key: common.secrets[0] ?? '',
      ...(common.ip === undefined ? {} : { ip: common.ip }),
    }),
    prepareVerify: (_options, common) => ({ scheme, keys: common.secrets, bindIp: common.bindIp }),
  };
}
