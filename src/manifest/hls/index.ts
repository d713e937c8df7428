/**
 * The HLS playlist rewriter: a pure text → text function that gives nested URIs their tokens and keeps
 * every other byte (README "The token strategies").
 */
export { rewriteHls, looksLikeHls } from './rewrite.js';
export { HLS_URI_SITES, type HlsUriSite, type HlsSitePlace } from './sites.js';
