import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { Reader, type CountryResponse } from 'maxmind';
import { ConfigError } from '../config/index.js';

const COUNTRY_CODE = /^[A-Za-z]{2}$/;

/**
 * The viewer's country for tokens with country rules (ectoken `ec_country_*`): a trusted proxy's header
 * first (a CDN in front knows better), then the operator's MaxMind database; undefined when neither
 * knows, which an allow list denies.
 */
export class CountryLookup {
  readonly #reader: Reader<CountryResponse> | undefined;
  readonly #header: string | undefined;

  constructor(geo: { readonly database?: string; readonly header?: string }) {
    this.#header = geo.header;
    if (geo.database !== undefined) {
      try {
        this.#reader = new Reader<CountryResponse>(readFileSync(geo.database));
      } catch (error) {
        throw new ConfigError([
          `geo.database: ${geo.database} is not a MaxMind database (${(error as Error).message})`,
        ]);
      }
    }
  }

  country(
    address: string | undefined,
    headers: IncomingHttpHeaders,
    viaTrustedProxy: boolean,
  ): string | undefined {
    if (this.#header !== undefined && viaTrustedProxy) {
      const value = headers[this.#header];
      if (typeof value === 'string' && COUNTRY_CODE.test(value)) return value.toUpperCase();
    }
    if (this.#reader === undefined || address === undefined) return undefined;
    // The reader neither checks the address nor refuses IPv6 in an IPv4-only database (it would walk the
    // first 32 bits); `address` is canonical already (mapped IPv4 folded), so only the family is checked.
    const family = isIP(address);
    if (family === 0 || (family === 6 && this.#reader.metadata.ipVersion === 4)) return undefined;
    let found: CountryResponse | null;
    try {
      found = this.#reader.get(address);
    } catch {
      return undefined;
    }
    return (found?.country ?? found?.registered_country)?.iso_code;
  }
}
