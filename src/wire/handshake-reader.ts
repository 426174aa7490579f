import type { Socket } from 'node:net';
import { FrameError } from './frame-reader.js';
import { parseStartupPacket, type StartupPacket } from './startup-packet.js';

/** The client went away before the handshake finished. */
export class ClientGoneError extends Error {
  constructor() {
    super('client closed the connection during the handshake');
    this.name = 'ClientGoneError';
  }
}

/** More than any valid handshake packet: reading pauses until the handshake consumes it. */
const PAUSE_ABOVE_BYTES = 1024 * 1024;
const EMPTY = Buffer.alloc(0);

/**
 * Reads the handshake (startup packets, then SASL messages) from a socket, one awaited packet at
 * a time. Not on the hot path: it runs a few times per connection, then hands whatever bytes the
 * client already pipelined to the typed FrameReader.
 */
export class HandshakeReader {
  private buf: Buffer = EMPTY;
  private wake: (() => void) | null = null;
  private gone = false;
  private readonly socket: Socket;

  constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', this.onData);
    socket.once('close', this.onClose);
  }

  /** Bytes received and not yet consumed. */
  get buffered(): number {
    return this.buf.length;
  }

  /** Waits for the first byte without consuming it (0x16 opens a TLS handshake). */
  async firstByte(): Promise<number> {
    while (this.buf.length === 0) await this.more();
    return this.buf[0]!;
  }

  async startupPacket(): Promise<StartupPacket> {
    for (;;) {
      const parsed = parseStartupPacket(this.buf);
      if (parsed) {
        this.buf = this.buf.subarray(parsed.consumed);
        return parsed.packet;
      }
      await this.more();
    }
  }

  /** One typed message of at most `maxBytes` body bytes. */
  async message(maxBytes: number): Promise<{ type: number; body: Buffer }> {
    for (;;) {
      if (this.buf.length >= 5) {
        const length = this.buf.readInt32BE(1);
        if (length < 4) throw new FrameError('08P01', `invalid message length ${length}`);
        if (length - 4 > maxBytes) {
          throw new FrameError(
            '54000',
            `message of ${length - 4} bytes exceeds the handshake limit of ${maxBytes} bytes`,
          );
        }
        if (this.buf.length >= length + 1) {
          const type = this.buf[0]!;
          const body = this.buf.subarray(5, length + 1);
          this.buf = this.buf.subarray(length + 1);
          return { type, body };
        }
      }
      await this.more();
    }
  }

  /** Stops reading; returns the bytes the client sent beyond the handshake. */
  detach(): Buffer {
    this.socket.off('data', this.onData);
    this.socket.off('close', this.onClose);
    if (this.socket.isPaused()) this.socket.resume();
    const rest = this.buf;
    this.buf = EMPTY;
    return rest;
  }

  private readonly onData = (chunk: Buffer): void => {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    if (this.buf.length > PAUSE_ABOVE_BYTES) this.socket.pause();
    this.wake?.();
  };

  private readonly onClose = (): void => {
    this.gone = true;
    this.wake?.();
  };

  private async more(): Promise<void> {
    if (this.gone) throw new ClientGoneError();
    if (this.socket.isPaused()) this.socket.resume();
    await new Promise<void>((resolve) => {
      this.wake = resolve;
    });
    this.wake = null;
    if (this.gone && this.buf.length === 0) throw new ClientGoneError();
  }
}
