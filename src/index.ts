/**
 * streamgate as a library: sign URLs in a website backend, verify requests, rewrite manifests,
 * run the gateway. See README.md for examples.
 */
// Signing and verifying, as the light `streamgate/sign` entry has them (schemes, errors, ectoken).
export * from './sign.js';
export { redactionNames } from './tokens/registry.js';
export type { SchemeDefinition } from './tokens/definition.js';
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
