/**
 * Splits a stream of PostgreSQL backend messages (type byte, int32 length, body) into whole
 * messages without copying: a message inside one chunk is handed on as a view of that chunk.
 * Only a message that straddles chunks is assembled, and only when `wants` says its body is
 * needed; otherwise its bytes are skipped as they pass. A forwarding caller sends the chunks on
 * unchanged and reads just the few message types it cares about.
 */
export interface FramedMessage {
  type: number;
  /** The body (after the length word), valid until the handler returns. */
  body: Buffer;
}

export type MessageHandler = (type: number, body: Buffer) => void;

/** Decides whether a message of `type` with a body of `length` bytes must be assembled. */
export type WantsBody = (type: number, length: number) => boolean;

const HEADER = 5;

export class MessageFramer {
  readonly #onMessage: MessageHandler;
  readonly #wants: WantsBody;
  /** A header split across chunks. */
  #header = Buffer.alloc(HEADER);
  #headerHave = 0;
  /** The message being assembled or skipped across chunks. */
  #type = 0;
  #body: Buffer | null = null;
  #bodyHave = 0;
  #remaining = 0;

  constructor(onMessage: MessageHandler, wants: WantsBody) {
    this.#onMessage = onMessage;
    this.#wants = wants;
  }

  /** True when no message is partly received: the stream sits on a message boundary. */
  get atBoundary(): boolean {
    return this.#headerHave === 0 && this.#remaining === 0;
  }

  push(chunk: Buffer): void {
    let offset = 0;
    const end = chunk.length;
    while (offset < end) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, end - offset);
        if (this.#body) chunk.copy(this.#body, this.#bodyHave, offset, offset + take);
        this.#bodyHave += take;
        this.#remaining -= take;
        offset += take;
        if (this.#remaining === 0) {
          const body = this.#body;
          this.#body = null;
          // A skipped body is reported empty: the caller said it does not need it.
          this.#onMessage(this.#type, body ?? EMPTY);
        }
        continue;
      }
      if (this.#headerHave > 0 || end - offset < HEADER) {
        const take = Math.min(HEADER - this.#headerHave, end - offset);
        chunk.copy(this.#header, this.#headerHave, offset, offset + take);
        this.#headerHave += take;
        offset += take;
        if (this.#headerHave < HEADER) continue;
        this.#headerHave = 0;
        this.#begin(this.#header[0]!, this.#header.readInt32BE(1) - 4);
        continue;
      }
      const type = chunk[offset]!;
      const length = chunk.readInt32BE(offset + 1) - 4;
      if (length < 0) throw new Error(`malformed server message: length ${length + 4}`);
      const start = offset + HEADER;
      if (start + length <= end) {
        this.#onMessage(type, chunk.subarray(start, start + length));
        offset = start + length;
        continue;
      }
      offset = start;
      this.#begin(type, length);
    }
  }

  #begin(type: number, length: number): void {
    if (length < 0) throw new Error(`malformed server message: length ${length + 4}`);
    this.#type = type;
    if (length === 0) {
      this.#onMessage(type, EMPTY);
      return;
    }
    this.#remaining = length;
    this.#bodyHave = 0;
    this.#body = this.#wants(type, length) ? Buffer.allocUnsafe(length) : null;
  }
}

const EMPTY = Buffer.alloc(0);
