export * from './backend-messages.js';
export { type ClientHandler, type ClientSession, type ConsoleRole, WireClient } from './client.js';
export { FrameError, FrameReader, type MessageHandler } from './frame-reader.js';
export { readBind, readCString, readExecute, readParse, readQuery, readTarget } from './frontend-fields.js';
export { CONSOLE_DATABASES, isLoopbackAddress, WireListener, type WireListenerOptions } from './listener.js';
export * from './protocol.js';
export { ScramExchange, ScramProtocolError } from './scram-exchange.js';
export {
  createVerifier,
  DEFAULT_ITERATIONS,
  formatVerifier,
  parseVerifier,
  type ScramVerifier,
  verifierMap,
} from './scram-verifier.js';
export { errorFieldsFor, SQLSTATE_BY_CODE, SqlState } from './sqlstate.js';
export { parseStartupPacket, StartupError, type StartupPacket } from './startup-packet.js';
