import { Pool } from 'undici';
import type { Config } from '../config/index.js';

/**
 * One keep-alive pool per zone origin. undici's Pool follows no redirects (a 3xx goes to the viewer
 * with its Location); the timeouts bound each phase: connect, time to response headers (LL-HLS
 * blocking reloads are held by the origin, so this one is generous), and silence between body chunks.
 */
export function createOriginPool(origin: string, timeouts: Config['timeouts']): Pool {
  return new Pool(origin, {
    connect: { timeout: timeouts.connectMs },
    headersTimeout: timeouts.headersMs,
    bodyTimeout: timeouts.bodyMs,
    keepAliveTimeout: 4000,
    pipelining: 1,
  });
}

export type OriginFailureKind =
  | 'unreachable'
  | 'connect_timeout'
  | 'headers_timeout'
  | 'body_timeout'
  | 'broken'
  | 'bad_request'
  | 'closing'
  | 'aborted';

export interface OriginFailure {
  /** What the viewer gets if no response has started yet; undefined: nobody to answer (viewer left). */
  readonly status: 400 | 502 | 503 | 504 | undefined;
  readonly kind: OriginFailureKind;
  readonly code: string;
}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_NONAME',
]);

function errorCode(error: unknown): string {
  const direct = (error as { code?: unknown } | null)?.code;
  if (typeof direct === 'string') return direct;
  // Happy Eyeballs (autoSelectFamily) reports every failed address in an AggregateError.
  if (error instanceof AggregateError) return errorCode(error.errors[0]);
  const cause = (error as { cause?: unknown } | null)?.cause;
  return cause === undefined || cause === error ? 'UNKNOWN' : errorCode(cause);
}

/**
 * The single place where a transport failure becomes an HTTP status: the origin could not be reached
 * or broke the exchange → 502, it did not answer in time → 504, the gateway is shutting down → 503.
 */
export function classifyOriginError(error: unknown): OriginFailure {
  const code = errorCode(error);
  if (UNREACHABLE.has(code)) return { status: 502, kind: 'unreachable', code };
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return { status: 504, kind: 'connect_timeout', code };
    case 'UND_ERR_HEADERS_TIMEOUT':
      return { status: 504, kind: 'headers_timeout', code };
    case 'UND_ERR_BODY_TIMEOUT':
      return { status: 504, kind: 'body_timeout', code };
    case 'UND_ERR_ABORTED':
    case 'UND_ERR_ABORT':
    case 'ABORT_ERR':
      return { status: undefined, kind: 'aborted', code };
    case 'UND_ERR_INVALID_ARG':
      return { status: 400, kind: 'bad_request', code };
    case 'UND_ERR_DESTROYED':
    case 'UND_ERR_CLOSED':
      return { status: 503, kind: 'closing', code };
    default:
      return { status: 502, kind: 'broken', code };
  }
}
