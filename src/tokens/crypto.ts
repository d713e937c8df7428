import { hash } from 'node:crypto';

/** base64url without padding of the raw MD5 digest: `openssl md5 -binary | openssl base64 | tr +/ -_ | tr -d =`. */
export function md5Base64Url(text: string): string {
  // crypto.hash (Node ≥ 20.12) is the one-shot form: no Hash object per token.
  return hash('md5', text, 'base64url');
}

/** The raw MD5 digest, for comparing with a presented token's decoded bytes. */
export function md5Bytes(text: string): Buffer {
  return hash('md5', text, 'buffer');
}
