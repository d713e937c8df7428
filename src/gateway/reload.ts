import { isDeepStrictEqual } from 'node:util';
import type { Pool } from 'undici';
import type { Config, ZoneConfig } from '../config/index.js';
import { createOriginPool } from './origin.js';

/**
 * Reloading the configuration of a running gateway (SIGHUP, or a watched file that changed). What can
 * change live is everything a request reads when it arrives — zones with their keys, origins, schemes,
 * strategies, TTLs, denial answers and policies; trusted proxies, CORS, the country lookup, log level and
 * access log settings, origin timeouts. Each request keeps the configuration it arrived under to its
 * end, so a stream in flight is never cut. What was bound or sized at start needs a restart: the
 * listening addresses, the worker count, and the limits that size the caches.
 */

/** Top-level settings a reload cannot apply; their running values stay in force. */
export const RESTART_ONLY = ['listen', 'admin', 'workers', 'limits'] as const;

export type ReloadResult =
  | {
      readonly ok: true;
      /** Restart-only settings that differ in the new configuration (not applied). */
      readonly restartNeeded: readonly string[];
      /** What changed, one phrase each, without key material. */
      readonly changes: readonly string[];
    }
  | { readonly ok: false; readonly problems: readonly string[] };

/** The new configuration with the running values of the restart-only settings. */
export function effectiveConfig(running: Config, next: Config): { config: Config; restartNeeded: string[] } {
  const restartNeeded = RESTART_ONLY.filter((key) => !isDeepStrictEqual(running[key], next[key]));
  if (restartNeeded.length === 0) return { config: next, restartNeeded };
  const config = Object.freeze({
    ...next,
    listen: running.listen,
    admin: running.admin,
    workers: running.workers,
    limits: running.limits,
  }) as Config;
  return { config, restartNeeded };
}

const plural = (count: number, word: string): string => `${count} ${word}${count === 1 ? '' : 's'}`;

/**
 * What a reload changes, for its log line: zones added, removed or changed (with the number of keys,
 * never a key), and the other settings that differ.
 */
export function describeChanges(before: Config, after: Config): string[] {
  const changes: string[] = [];
  const old = new Map(before.zones.map((zone) => [zone.name, zone]));
  const fresh = new Map(after.zones.map((zone) => [zone.name, zone]));
  for (const [name, zone] of fresh) {
    const previous = old.get(name);
    if (previous === undefined) changes.push(`zone ${name} added`);
    else if (!isDeepStrictEqual(previous, zone)) changes.push(`zone ${name}: ${zoneChanges(previous, zone)}`);
  }
  for (const name of old.keys()) if (!fresh.has(name)) changes.push(`zone ${name} removed`);
  for (const key of [
    'trustedProxies',
    'geo',
    'cors',
    'log',
    'timeouts',
    'shutdownGraceMs',
    'reload',
  ] as const) {
    if (!isDeepStrictEqual(before[key], after[key])) changes.push(`${key} changed`);
  }
  return changes;
}

function zoneChanges(before: ZoneConfig, after: ZoneConfig): string {
  const parts: string[] = [];
  if (!isDeepStrictEqual(before.keys, after.keys)) {
    const kept = after.keys.filter((key) => before.keys.includes(key)).length;
    parts.push(
      `keys ${before.keys.length} → ${after.keys.length} (${plural(after.keys.length - kept, 'new key')}, ` +
        `${plural(before.keys.length - kept, 'key')} removed${after.keys[0] === before.keys[0] ? '' : ', new signing key'})`,
    );
  }
  for (const key of Object.keys(after) as Array<keyof ZoneConfig>) {
    if (key !== 'keys' && !isDeepStrictEqual(before[key], after[key])) parts.push(`${key} changed`);
  }
  return parts.join(', ');
}

/**
 * Origin pools across reloads: a zone whose origin and timeouts did not change keeps its pool (and its
 * warm connections); a pool no zone uses any more is closed once the requests that may still use it are
 * done — undici's close() lets running requests finish, and the delay covers old requests that have yet
 * to send theirs (a viewer waiting on a shared manifest fetch).
 */
export class OriginPools {
  readonly #pools = new Map<string, Pool>();
  readonly #retiring = new Set<Pool>();

  #key(zone: ZoneConfig, timeouts: Config['timeouts']): string {
    return `${zone.name}\0${zone.origin}\0${timeouts.connectMs}\0${timeouts.headersMs}\0${timeouts.bodyMs}`;
  }

  /** The pool for a zone under a configuration, reusing the current one where nothing changed. */
  get(zone: ZoneConfig, timeouts: Config['timeouts']): Pool {
    const key = this.#key(zone, timeouts);
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      pool = createOriginPool(zone.origin, timeouts);
      this.#pools.set(key, pool);
    }
    return pool;
  }

  /** Retires the pools `config` no longer uses, closing them after `afterMs`. */
  retireUnused(config: Config, afterMs: number): void {
    const used = new Set(config.zones.map((zone) => this.#key(zone, config.timeouts)));
    for (const [key, pool] of this.#pools) {
      if (used.has(key)) continue;
      this.#pools.delete(key);
      this.#retiring.add(pool);
      const timer = setTimeout(() => {
        this.#retiring.delete(pool);
        void pool.close().catch(() => undefined);
      }, afterMs);
      timer.unref();
    }
  }

  /** Forgets pools built for a configuration that was then refused. */
  discardExcept(config: Config): void {
    const used = new Set(config.zones.map((zone) => this.#key(zone, config.timeouts)));
    for (const [key, pool] of this.#pools) {
      if (used.has(key)) continue;
      this.#pools.delete(key);
      void pool.destroy().catch(() => undefined);
    }
  }

  async destroyAll(): Promise<void> {
    const all = [...this.#pools.values(), ...this.#retiring];
    this.#pools.clear();
    this.#retiring.clear();
    await Promise.all(all.map((pool) => pool.destroy()));
  }
}
