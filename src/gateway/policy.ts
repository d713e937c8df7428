import type { IncomingMessage } from 'node:http';
import { BlockList, isIPv4 } from 'node:net';
import type { DenialLimitConfig, PolicyConfig } from '../config/index.js';
import { refererMatches, refererParts } from '../tokens/ectoken.js';
import { parseCidr } from '../tokens/ip.js';
import type { ClientAddress } from './client.js';
import type { CountryLookup } from './geo.js';

/**
 * A zone's `policy:` at request time, for every token scheme: address lists, country lists, Referer
 * lists, and the denial limit that slows a client collecting denials (a token guesser) and then refuses
 * it with 429. Each refusal has its own reason, which is also its metrics label.
 */

export type PolicyReason = 'policy_ip' | 'policy_country' | 'policy_referer' | 'rate_limited';

export interface PolicyRefusal {
  readonly status: 403 | 429;
  readonly reason: PolicyReason;
  /** For the access log only: which rule, which value. */
  readonly detail: string;
  /** 429: seconds until the client may ask again (the Retry-After header, RFC 9110 §10.2.3). */
  readonly retryAfter?: number;
}

class Networks {
  readonly #list = new BlockList();

  constructor(cidrs: readonly string[]) {
    for (const cidr of cidrs) {
      const parsed = parseCidr(cidr);
      if (parsed.ok) this.#list.addSubnet(parsed.address, parsed.prefix, parsed.family);
    }
  }

  /** `address` canonical (IPv4-mapped IPv6 already folded to IPv4). */
  has(address: string): boolean {
    return this.#list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
  }
}

/**
 * A deny list wins over an allow list, so that an allowed range can have exceptions
 * (`ipAllow: [10.0.0.0/8]`, `ipDeny: [10.9.0.0/16]`); with an allow list, what it does not name is refused.
 */
function listVerdict(
  allow: { has(value: string): boolean } | undefined,
  deny: { has(value: string): boolean } | undefined,
  value: string | undefined,
): 'deny' | 'not-allowed' | undefined {
  if (value !== undefined && deny?.has(value)) return 'deny';
  if (allow !== undefined && (value === undefined || !allow.has(value))) return 'not-allowed';
  return undefined;
}

class RefererList {
  constructor(readonly entries: readonly string[]) {}

  /** `referer` the header as sent; absent or empty is a missing referrer, matched by `missing`. */
  has(referer: string): boolean {
    if (referer === '') return this.entries.includes('missing');
    const parts = refererParts(referer);
    return (
      parts !== undefined && this.entries.some((entry) => entry !== 'missing' && refererMatches(entry, parts))
    );
  }
}

export class ZonePolicy {
  readonly #ipAllow: Networks | undefined;
  readonly #ipDeny: Networks | undefined;
  readonly #countryAllow: Set<string> | undefined;
  readonly #countryDeny: Set<string> | undefined;
  readonly #refererAllow: RefererList | undefined;
  readonly #refererDeny: RefererList | undefined;

  constructor(
    config: PolicyConfig,
    readonly limiter: DenialLimiter | undefined,
  ) {
    this.#ipAllow = config.ipAllow && new Networks(config.ipAllow);
    this.#ipDeny = config.ipDeny && new Networks(config.ipDeny);
    this.#countryAllow = config.countryAllow && new Set(config.countryAllow);
    this.#countryDeny = config.countryDeny && new Set(config.countryDeny);
    this.#refererAllow = config.refererAllow && new RefererList(config.refererAllow);
    this.#refererDeny = config.refererDeny && new RefererList(config.refererDeny);
  }

  /** The first rule that refuses this request, before any token is looked at; undefined: none does. */
  check(
    req: IncomingMessage,
    client: ClientAddress,
    geo: CountryLookup,
    now: number,
  ): PolicyRefusal | undefined {
    const ip = client.ip;
    const byIp = listVerdict(this.#ipAllow, this.#ipDeny, ip);
    if (byIp !== undefined) {
      return {
        status: 403,
        reason: 'policy_ip',
        detail: `${ip ?? 'unknown address'} ${byIp === 'deny' ? 'in ipDeny' : 'not in ipAllow'}`,
      };
    }
    if (this.limiter !== undefined && ip !== undefined) {
      const wait = this.limiter.blocked(ip, now);
      if (wait !== undefined) {
        return {
          status: 429,
          reason: 'rate_limited',
          detail: `more than ${this.limiter.settings.refuseAfter} denials in ${this.limiter.settings.windowSeconds} s`,
          retryAfter: wait,
        };
      }
    }
    if (this.#countryAllow !== undefined || this.#countryDeny !== undefined) {
      const country = geo.country(ip, req.headers, client.viaTrustedProxy)?.toUpperCase();
      const byCountry = listVerdict(this.#countryAllow, this.#countryDeny, country);
      if (byCountry !== undefined) {
        return {
          status: 403,
          reason: 'policy_country',
          detail:
            country === undefined
              ? 'country unknown (countryAllow)'
              : `country ${country} ${byCountry === 'deny' ? 'in countryDeny' : 'not in countryAllow'}`,
        };
      }
    }
    if (this.#refererAllow !== undefined || this.#refererDeny !== undefined) {
      const header = req.headers.referer ?? '';
      const byReferer = listVerdict(this.#refererAllow, this.#refererDeny, header);
      if (byReferer !== undefined) {
        return {
          status: 403,
          reason: 'policy_referer',
          detail: `${header === '' ? 'no Referer' : 'Referer'} ${byReferer === 'deny' ? 'in refererDeny' : 'not in refererAllow'}`,
        };
      }
    }
    return undefined;
  }

  /** Counts a token denial against the client; returns how long to hold its answer (ms). */
  noteDenial(ip: string | undefined, reason: string, now: number): number {
    if (this.limiter === undefined || ip === undefined) return 0;
    return this.limiter.note(ip, reason, now);
  }
}

/**
 * IPv6 clients are counted by /64: one subscriber gets a whole /64 (RFC 6177 §3) and can take a new
 * address in it for every request.
 */
export function clientKey(ip: string): string {
  if (isIPv4(ip)) return ip;
  const [head = '', tail] = ip.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups.slice(0, 4).join(':')}::/64`;
}

interface ClientState {
  /** Denials not yet drained. */
  level: number;
  /** When `level` was last brought up to date (ms). */
  at: number;
  /** Refused (429) until then (ms); 0 when not refused. */
  blockedUntil: number;
}

/**
 * Denials per client address as a leaky bucket: each counted denial adds one, and the count drains at
 * `refuseAfter` per `windowSeconds`. Past `slowAfter` a denial is answered only after `slowMs`; reaching
 * `refuseAfter`, every request of the address is answered 429 for `windowSeconds` — by then the count
 * has drained. Memory is bounded: at most `maxClients` addresses are remembered, and the least recently
 * counted one is forgotten first (as nginx's limit_req does when its zone is full).
 */
export class DenialLimiter {
  readonly #clients = new Map<string, ClientState>();
  readonly #counted: ReadonlySet<string>;
  readonly #drainPerMs: number;

  constructor(readonly settings: DenialLimitConfig) {
    this.#counted = new Set(settings.count);
    this.#drainPerMs = settings.refuseAfter / (settings.windowSeconds * 1000);
  }

  /** Addresses remembered now (never more than maxClients). */
  get size(): number {
    return this.#clients.size;
  }

  /** Seconds (at least 1) the address must wait while refused; undefined when it is not. */
  blocked(ip: string, now: number): number | undefined {
    const state = this.#clients.get(clientKey(ip));
    if (state === undefined || state.blockedUntil <= now) return undefined;
    return Math.max(1, Math.ceil((state.blockedUntil - now) / 1000));
  }

  note(ip: string, reason: string, now: number): number {
    if (!this.#counted.has(reason)) return 0;
    const key = clientKey(ip);
    let state = this.#clients.get(key);
    if (state === undefined) {
      if (this.#clients.size >= this.settings.maxClients) {
        const oldest = this.#clients.keys().next().value;
        if (oldest !== undefined) this.#clients.delete(oldest);
      }
      state = { level: 0, at: now, blockedUntil: 0 };
    } else {
      // Re-inserted below: a Map keeps insertion order, so its first key is the least recently counted.
      this.#clients.delete(key);
      state.level = Math.max(0, state.level - (now - state.at) * this.#drainPerMs);
      state.at = now;
    }
    state.level += 1;
    this.#clients.set(key, state);
    const { refuseAfter, slowAfter, slowMs, windowSeconds } = this.settings;
    // The count drains between denials, so the refuseAfter-th of a quick series stands a little below it.
    if (state.level > refuseAfter - 1 && state.blockedUntil <= now) {
      state.blockedUntil = now + windowSeconds * 1000;
    }
    return state.level > slowAfter ? slowMs : 0;
  }
}

/**
 * The limiters of every zone, kept across reloads while a zone's limit settings stay the same, so that
 * a reload does not give a guessing client a fresh count.
 */
export class DenialLimiters {
  #byZone = new Map<string, DenialLimiter>();

  /** The policy of a zone for a new configuration; call `keepOnly` once every zone has been built. */
  policy(
    zone: string,
    config: PolicyConfig | undefined,
    kept: Map<string, DenialLimiter>,
  ): ZonePolicy | undefined {
    if (config === undefined) return undefined;
    let limiter: DenialLimiter | undefined;
    if (config.denialLimit !== undefined) {
      const previous = this.#byZone.get(zone);
      limiter =
        previous !== undefined && JSON.stringify(previous.settings) === JSON.stringify(config.denialLimit)
          ? previous
          : new DenialLimiter(config.denialLimit);
      kept.set(zone, limiter);
    }
    return new ZonePolicy(config, limiter);
  }

  /** The limiters of the configuration now in force. */
  adopt(kept: Map<string, DenialLimiter>): void {
    this.#byZone = kept;
  }
}
