import { createMd5Scheme, md5Definition } from './md5-family.js';

/**
 * KeyCDN Secure Token: base64url-nopad(md5(path + secret + expire)), `?token=…&expire=…` (singular
 * `expire`). KeyCDN has no IP binding ("Blocking access by IP would require a custom rule").
 * Directory and path-embedded scopes are streamgate extensions in the same formula; KeyCDN's own edge
 * knows only file tokens.
 */
export const keycdn = createMd5Scheme({
  name: 'keycdn',
  params: { token: 'token', expires: 'expire' },
  supportsIp: false,
  stringToSign: (target, key) => `${target.path}${key}${target.expires}`,
});

export const keycdnDefinition = md5Definition('keycdn', 'KeyCDN Secure Token', keycdn);
