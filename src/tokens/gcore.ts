import { createMd5Scheme, md5Definition } from './md5-family.js';

/**
 * Gcore Secure Token: base64url-nopad(md5(`{expires}{path}{ip} {secret}`)) — one space before the
 * secret, and with no IP binding `{expires}{path} {secret}` — sent as `?md5=…&expires=…`.
 * Directory tokens sign a path ending in `/` (Gcore "Query String Forwarding").
 */
export const gcore = createMd5Scheme({
  name: 'gcore',
  params: { token: 'md5', expires: 'expires' },
  supportsIp: true,
  stringToSign: (target, key) => `${target.expires}${target.path}${target.ip ?? ''} ${key}`,
});

export const gcoreDefinition = md5Definition('gcore', 'Gcore Secure Token', gcore);
