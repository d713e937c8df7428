import { decodeBody, type DecodedBody } from './manifest.js';

/**
 * A manifest body as it arrives from the origin. Without a Content-Encoding its UTF-8 is decoded chunk
 * by chunk (WHATWG Encoding, streaming decode), so that the text of an 8 MB manifest is not decoded in
 * one piece on the event loop when its last byte arrives (that took 15–50 ms); a compressed body is
 * decoded at the end, within the size limit (decodeBody).
 */
export class ManifestBody {
  #chunks: Buffer[] = [];
  #size = 0;
  #pieces: string[] = [];
  #decoder: TextDecoder | undefined;
  #undecodable = false;

  constructor(private readonly encoding: string | string[] | undefined) {
    const identity =
      encoding === undefined || (typeof encoding === 'string' && /^\s*(?:identity)?\s*$/i.test(encoding));
    if (identity) this.#decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  }

  get size(): number {
    return this.#size;
  }

  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    if (this.#decoder === undefined || this.#undecodable) return;
    try {
      this.#pieces.push(this.#decoder.decode(chunk, { stream: true }));
    } catch {
      // RFC 8216 §4.1: not UTF-8; passed through as bytes.
      this.#undecodable = true;
      this.#pieces = [];
    }
  }

  /** The bytes as received (joined once). */
  bytes(): Buffer {
    if (this.#chunks.length !== 1) this.#chunks = [Buffer.concat(this.#chunks, this.#size)];
    return this.#chunks[0]!;
  }

  /** The body decoded: as decodeBody would give it for the whole. */
  finish(limit: number): DecodedBody {
    const bytes = this.bytes();
    const decoder = this.#decoder;
    if (decoder === undefined) return decodeBody(bytes, this.encoding, limit);
    if (bytes.length > limit) return { ok: false, reason: 'too_large' };
    let text: string | undefined;
    if (!this.#undecodable) {
      try {
        this.#pieces.push(decoder.decode());
        text = this.#pieces.join('');
      } catch {
        text = undefined;
      }
    }
    this.#pieces = [];
    return { ok: true, text, bytes };
  }
}
