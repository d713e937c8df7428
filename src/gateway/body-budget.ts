import type { ServerResponse } from 'node:http';
import { countAnswer } from './access.js';
import { Gauge, type Registry } from 'prom-client';
import { redactTarget } from './log.js';
import { sendText, type GatewayRuntime, type ViewerRequest } from './runtime.js';

/**
 * One process-wide allowance for manifest bodies held in memory: bytes buffered from the origin (a
 * viewer's exchange in Buffer mode, a shared live fetch) and the working copies of a rewrite. Each
 * holder takes bytes before holding them and gives them back when done; a holder that cannot take
 * them gives up at once. Without it, every concurrent 8 MiB manifest added tens of megabytes, with no
 * ceiling but the process's death.
 */
export class ManifestMemory {
  #held = 0;

  constructor(readonly limit: number) {}

  get held(): number {
    return this.#held;
  }

  /** Whether nothing more can be taken: new manifest requests are refused before asking the origin. */
  get exhausted(): boolean {
    return this.#held >= this.limit;
  }

  /** Takes `bytes` if they fit; false (nothing taken) when they do not. */
  take(bytes: number): boolean {
    if (this.#held + bytes > this.limit) return false;
    this.#held += bytes;
    return true;
  }

  release(bytes: number): void {
    this.#held = Math.max(0, this.#held - bytes);
  }
}

/** Seconds a viewer is told to wait (RFC 9110 §10.2.3): a manifest rewrite lasts well under that. */
export const RETRY_AFTER_SECONDS = 2;

/**
 * The answer to a manifest request that would go past the memory allowance: 503 with Retry-After
 * (RFC 9110 §15.6.4, a temporary overload: players retry a failed manifest load) and one log line.
 */
export function refuseOverBudget(
  rt: GatewayRuntime,
  zone: string,
  view: ViewerRequest,
  res: ServerResponse,
  where: string,
): void {
  rt.logger.warn(
    {
      reqId: view.id,
      zone,
      target: redactTarget(view.target),
      status: 503,
      where,
      heldBytes: rt.manifestMemory.held,
      limitBytes: rt.manifestMemory.limit,
    },
    'manifest memory budget (limits.manifestMemoryBytes) exhausted; request refused',
  );
  countAnswer(rt.metrics, res, zone, 503, 'manifest_memory');
  sendText(res, 503, 'manifest memory budget exhausted, retry', {
    'retry-after': String(RETRY_AFTER_SECONDS),
  });
}

/** Exports the allowance in use (refusals are counted in streamgate_requests_total, reason manifest_memory). */
export function registerManifestMemoryMetrics(registry: Registry, memory: ManifestMemory): void {
  new Gauge({
    name: 'streamgate_manifest_memory_bytes',
    help: 'Bytes of manifest bodies held (buffered from the origin or being rewritten), out of limits.manifestMemoryBytes',
    registers: [registry],
    collect() {
      this.set(memory.held);
    },
  });
}
