export {
  type ClientInfo,
  ClientRecord,
  ClientRegistry,
  type ClientState,
  type ClientSummary,
  type TrafficCounters,
} from './client-registry.js';
