export {
  type ClientInfo,
  ClientRecord,
  ClientRegistry,
  type ClientState,
  type ClientSummary,
  type FrontStatus,
  type TrafficCounters,
  zeroTraffic,
} from './client-registry.js';
