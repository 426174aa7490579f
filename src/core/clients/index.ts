export {
  type ClientInfo,
  ClientRecord,
  ClientRegistry,
  type ClientState,
  type ClientSummary,
  type FrontStatus,
  type TrafficCounters,
} from './client-registry.js';
