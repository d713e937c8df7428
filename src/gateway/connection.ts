import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * RFC 9112 §9.3.2: a server answers pipelined requests in the order they arrived. Node's HTTP server
 * keeps that order among ordinary requests, but a request it cannot hand to the request listener — a
 * CONNECT (given to the 'connect' event with the raw socket) or bytes it cannot parse ('clientError')
 * — comes out of band, while responses to earlier requests on the same connection may still be in
 * flight. Answering it at once would put its status line before (or inside) theirs, and closing the
 * socket would cut them. Here the connection's unfinished responses are counted, and such an answer is
 * written only after the last of them, then the connection is closed.
 */

const OPEN = Symbol('streamgate.openResponses');
const CLOSING = Symbol('streamgate.closingAnswer');

interface Tracked {
  /** Responses to requests of this connection that have not closed yet, in request order. */
  [OPEN]?: Set<ServerResponse>;
  /** An out-of-band answer waiting for them; set once, when the connection is being closed. */
  [CLOSING]?: string;
}

type TrackedSocket = Duplex & Tracked;

function onResponseClose(this: ServerResponse): void {
  const socket = this.req.socket as TrackedSocket;
  const open = socket[OPEN];
  if (open === undefined) return;
  open.delete(this);
  const answer = socket[CLOSING];
  if (open.size === 0 && answer !== undefined) endWith(socket, answer);
}

/** Counts `res` as in flight on its connection until it closes (finished or cut). */
export function trackResponse(req: IncomingMessage, res: ServerResponse): void {
  const socket = req.socket as Socket & Tracked;
  let open = socket[OPEN];
  if (open === undefined) {
    open = new Set();
    socket[OPEN] = open;
  }
  open.add(res);
  res.on('close', onResponseClose);
}

/** How long a connection we have ended may wait for the peer to close its side before it is cut. */
const LINGER_MS = 5000;

function endWith(socket: Duplex, answer: string): void {
  if (socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(answer);
  // Node's HTTP sockets allow half-open connections: a peer that never closes its side would keep
  // this one until the server's idle timeout.
  (socket as Partial<Socket>).setTimeout?.(LINGER_MS);
}

/**
 * Answers `answer` (a whole HTTP/1.1 response that says `Connection: close`) on a connection that is
 * leaving HTTP's request/response order, once the responses to its earlier requests are complete, then
 * closes it. `detached`: Node has taken its own listeners off the socket (it does so before 'connect'),
 * so what they did for the responses still owed is done here.
 */
export function closeAfterPending(socket: Duplex, answer: string, detached: boolean): void {
  const tracked = socket as TrackedSocket;
  if (tracked[CLOSING] !== undefined) return;
  tracked[CLOSING] = answer;
  if (detached) {
    socket.on('error', () => socket.destroy());
    // The idle timeout still applies (a viewer who stops reading, a peer that never closes).
    socket.on('timeout', () => socket.destroy());
  }
  const open = tracked[OPEN];
  if (open === undefined || open.size === 0) {
    endWith(socket, answer);
    return;
  }
  if (!detached) return;
  socket.on('drain', () => {
    for (const res of open) {
      // Only the response attached to the socket writes to it; later ones wait in Node's queue.
      if (res.socket === socket && !res.writableEnded) res.emit('drain');
    }
  });
  // Responses still queued behind the one being written learn that the viewer is gone.
  socket.on('close', () => {
    for (const res of open) if (res.socket !== socket) res.emit('close');
  });
}

const NOT_ALLOWED =
  'HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD, OPTIONS\r\nContent-Length: 0\r\nConnection: close\r\n\r\n';

/** A CONNECT would make the gateway a tunnel: refused like any method outside GET, HEAD, OPTIONS. */
export function refuseConnect(_req: IncomingMessage, socket: Duplex): void {
  closeAfterPending(socket, NOT_ALLOWED, true);
}

function plainAnswer(status: number, reason: string): string {
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`;
}

/** The status Node itself would send for a client error (400, 431, 413, 408). */
function clientErrorStatus(code: string | undefined): 400 | 408 | 413 | 431 {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return 431;
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return 413;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 408;
    default:
      return 400;
  }
}

const REASONS = {
  400: 'Bad Request',
  408: 'Request Timeout',
  413: 'Content Too Large',
  431: 'Request Header Fields Too Large',
};

/**
 * Bytes that are no HTTP request (or a request whose headers are too large, or that never completes):
 * the status Node itself would send, after the responses already owed. Returns that status, or
 * undefined when the connection was simply dropped (the peer reset it).
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): number | undefined {
  if (error.code === 'ECONNRESET' || error.code === 'EPIPE' || !socket.writable) {
    socket.destroy();
    return undefined;
  }
  const status = clientErrorStatus(error.code);
  closeAfterPending(socket, plainAnswer(status, REASONS[status]), false);
  return status;
}
