import { hash, timingSafeEqual } from 'node:crypto';

/** base64url without padding of the raw MD5 digest: `openssl md5 -binary | openssl base64 | tr +/ -_ | tr -d =`. */
export function md5Base64Url(text: string): string {
  // crypto.hash (Node ≥ 20.12) is the one-shot form: no Hash object per token.
  return hash('md5', text, 'base64url');
}

/**
 * Constant-time string comparison. Lengths are compared first, which leaks only the length of the
 * expected value — a public constant (22 characters for every MD5 token).
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  if (left.length !== right.length) return false;
  return timingSafeEqual(left, right);
}
