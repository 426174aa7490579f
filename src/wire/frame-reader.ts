import { DEFAULT_MAX_MESSAGE_BYTES } from './protocol.js';

/**
 * Called once per complete frontend message. `frame` is the whole message (type byte, length,
 * body), ready to forward without re-encoding; `body` is the part after the 5-byte header. Both
 * are slices of the socket chunk when the message arrived in one piece, so they are only valid
 * until the handler returns unless the handler keeps the chunk alive (Node never reuses it).
 */
export type MessageHandler = (type: number, body: Buffer, frame: Buffer) => void;

/** A length field that cannot be honoured: the connection is unusable and must be closed. */
export class FrameError extends Error {
  /** 08P01 protocol_violation for a nonsensical length, 54000 program_limit_exceeded for too big. */
  readonly sqlstate: '08P01' | '54000';
  constructor(sqlstate: '08P01' | '54000', message: string) {
    super(message);
    this.name = 'FrameError';
    this.sqlstate = sqlstate;
  }
}

/**
 * Incremental reader of typed frontend messages over socket chunks. Messages wholly inside a chunk
 * are handed out as slices of it (no copy); only a message split across chunks is assembled, into
 * one buffer allocated at its final size once its header is known.
 */
export class FrameReader {
  readonly maxMessageBytes: number;
  /** A message being assembled across chunks, allocated at its full size. */
  private partial: Buffer | null = null;
  private partialFilled = 0;
  /** Fewer than 5 header bytes left over from the previous chunk. */
  private header: Buffer | null = null;

  constructor(maxMessageBytes: number = DEFAULT_MAX_MESSAGE_BYTES) {
    this.maxMessageBytes = maxMessageBytes;
  }

  /** True when bytes of an unfinished message are held. */
  get pending(): boolean {
    return this.partial !== null || this.header !== null;
  }

  /**
   * Feeds one chunk; calls `onMessage` for every message it completes, in order. Throws
   * FrameError on a bad length; the reader is then unusable (close the connection).
   */
  feed(chunk: Buffer, onMessage: MessageHandler): void {
    let at = 0;
    const end = chunk.length;
    if (this.header !== null) {
      const need = 5 - this.header.length;
      if (end < need) {
        this.header = Buffer.concat([this.header, chunk]);
        return;
      }
      const header = Buffer.concat([this.header, chunk.subarray(0, need)]);
      this.header = null;
      at = need;
      this.begin(header, 0);
      this.partialFilled = header.copy(this.partial!, 0, 0, 5);
    }
    if (this.partial !== null) {
      const partial = this.partial;
      const take = Math.min(partial.length - this.partialFilled, end - at);
      chunk.copy(partial, this.partialFilled, at, at + take);
      this.partialFilled += take;
      at += take;
      if (this.partialFilled < partial.length) return;
      this.partial = null;
      onMessage(partial[0]!, partial.subarray(5), partial);
    }
    while (at < end) {
      if (end - at < 5) {
        this.header = Buffer.from(chunk.subarray(at));
        return;
      }
      const total = this.checkLength(chunk.readInt32BE(at + 1), chunk[at]!) + 1;
      if (end - at >= total) {
        const frame = chunk.subarray(at, at + total);
        at += total;
        onMessage(frame[0]!, frame.subarray(5), frame);
        continue;
      }
      this.begin(chunk, at);
      this.partialFilled = chunk.copy(this.partial!, 0, at, end);
      return;
    }
  }

  private begin(source: Buffer, at: number): void {
    const total = this.checkLength(source.readInt32BE(at + 1), source[at]!) + 1;
    this.partial = Buffer.allocUnsafe(total);
    this.partialFilled = 0;
  }

  private checkLength(length: number, type: number): number {
    if (length < 4) {
      throw new FrameError(
        '08P01',
        `invalid message length ${length} for message type ${printable(type)}: at least 4 expected`,
      );
    }
    if (length - 4 > this.maxMessageBytes) {
      throw new FrameError(
        '54000',
        `message type ${printable(type)} of ${length - 4} bytes exceeds the limit of ${this.maxMessageBytes} bytes`,
      );
    }
    return length;
  }
}

function printable(type: number): string {
  return type >= 0x20 && type < 0x7f
    ? `'${String.fromCharCode(type)}'`
    : `0x${type.toString(16).padStart(2, '0')}`;
}
