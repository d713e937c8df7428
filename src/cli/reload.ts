import { unwatchFile, watchFile } from 'node:fs';
import type { Config, ConfigResult } from '../config/index.js';
import type { Gateway, ReloadResult } from '../gateway/index.js';
import type { Logger } from '../gateway/log.js';

/**
 * `serve` reloads its configuration without a restart, as nginx and Envoy operators expect: on SIGHUP,
 * and — with `reload.watch` — when the configuration file or a key file changes. The same sources (file,
 * environment, flags) are read again and validated with the same schema; an invalid result is refused
 * with every problem and the running configuration stays.
 */

/** Reads the configuration again, as at start. */
export type ConfigLoader = () => ConfigResult;

/** Applies a freshly read configuration to a gateway and writes the one log line that says how it went. */
export function reloadGateway(
  gateway: Gateway,
  load: ConfigLoader,
  logger: Logger,
  source: string,
): ReloadResult {
  const read = load();
  const result: ReloadResult = read.ok ? gateway.reload(read.config) : { ok: false, problems: read.problems };
  logReload(logger, source, result);
  return result;
}

export function logReload(logger: Logger, source: string, result: ReloadResult): void {
  if (!result.ok) {
    logger.error(
      { source, problems: result.problems },
      `configuration refused (${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}); the running configuration stays: ${result.problems.join('; ')}`,
    );
    return;
  }
  logger.info(
    { source, changes: result.changes },
    result.changes.length === 0 ? 'configuration reloaded (no change)' : 'configuration reloaded',
  );
  if (result.restartNeeded.length > 0) {
    logger.warn(
      { source, settings: result.restartNeeded },
      `${result.restartNeeded.join(', ')} changed: ${result.restartNeeded.length === 1 ? 'it takes' : 'they take'} effect at the next restart; the running values stay`,
    );
  }
}

/** How `serve` reads its configuration again, and which files it was read from. */
export interface ConfigSource {
  readonly load: ConfigLoader;
  /** Files read besides those the configuration names: the file itself, `--secret-file` files. */
  readonly files: readonly string[];
}

/**
 * The files whose change means a new configuration: the file itself, key files (`secretFile`, and the
 * PEM and JWKS files of CloudFront and JWT zones), the country database.
 */
export function watchedFiles(config: Config, source: ConfigSource): string[] {
  const files = new Set<string>(source.files);
  for (const zone of config.zones) {
    if (zone.secretFile !== undefined) files.add(zone.secretFile);
    for (const file of zone.schemeFiles) files.add(file);
  }
  if (config.geo.database !== undefined) files.add(config.geo.database);
  return [...files];
}

/** What tells a changed file from the same one (a deleted file reads as zeros: a change too). */
interface FileStamp {
  readonly mtimeMs: number;
  readonly ino: number;
  readonly size: number;
}

/**
 * Polls files (stat, every `intervalMs`) and calls `changed` once per burst of changes. Polling, not
 * inotify: a Kubernetes Secret or ConfigMap volume replaces a symbolic link to a new directory, which an
 * inotify watch on the old file never reports; a stat of the path follows the link.
 */
export class FileWatch {
  #files: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  readonly #listener = (current: FileStamp, previous: FileStamp): void => {
    if (
      current.mtimeMs === previous.mtimeMs &&
      current.ino === previous.ino &&
      current.size === previous.size
    ) {
      return;
    }
    // A burst (an editor's save, several files of one Secret) becomes one reload.
    clearTimeout(this.#timer);
    this.#timer = setTimeout(this.changed, 250);
    this.#timer.unref();
  };

  constructor(
    readonly intervalMs: number,
    readonly changed: () => void,
  ) {}

  /** Watches exactly these files from now on. */
  set(files: readonly string[]): void {
    for (const file of this.#files) if (!files.includes(file)) unwatchFile(file, this.#listener);
    for (const file of files) {
      if (this.#files.includes(file)) continue;
      const watcher = watchFile(file, { interval: this.intervalMs, persistent: false }, this.#listener);
      watcher.unref();
    }
    this.#files = [...files];
  }

  close(): void {
    clearTimeout(this.#timer);
    for (const file of this.#files) unwatchFile(file, this.#listener);
    this.#files = [];
  }
}
