/**
 * streamgate as a library: sign URLs in a website backend, verify requests, rewrite manifests,
 * run the gateway. See README.md for examples.
 */
export type { SchemeName, TokenScheme } from './tokens/scheme.js';
export type { Verdict, Grant, Denial, DenialReason, TokenScope } from './tokens/verdict.js';
export { SignError } from './tokens/sign.js';
export { SCHEMES, SCHEME_NAMES, SCHEME_DEFINITIONS, redactionNames } from './tokens/registry.js';
export type { SchemeDefinition } from './tokens/definition.js';
export { canonicalIp } from './tokens/ip.js';
export {
  decryptEctoken,
  encryptEctoken,
  ectokenRules,
  type DecryptResult,
  type EctokenRules,
} from './tokens/ectoken.js';
export { rewriteHls } from './manifest/hls/index.js';
export { rewriteDash } from './manifest/dash/index.js';
export type { RewriteOptions, RewriteResult, Tokenizer, TokenGrant, UriTarget } from './manifest/types.js';
export {
  createTokenizer,
  type ForwardUncovered,
  type StrategyContext,
  type StrategyTokenizer,
  type TokenStrategy,
} from './tokens/strategy.js';
export { createGateway, type Gateway } from './gateway/index.js';
export { loadConfig, ConfigError, type Config } from './config/index.js';

export {
  signCookies,
  signUrl,
  verifyRequest,
  type SchemeSignOptions,
  type SchemeVerifyOptions,
  type SignUrlOptions,
  type VerifiableRequest,
  type VerifyFacts,
  type VerifyRequestOptions,
  type VerifyResult,
} from './sign.js';
