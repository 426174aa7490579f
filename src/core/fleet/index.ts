export { processIdFor, slotOf } from './cancel-relay.js';
export { LEASE_MS, QUIET_MS, RENEW_MS, type ShareState } from './connection-budget.js';
export { Fleet, type FleetState, memberReport, targetKey } from './fleet.js';
export {
  HEARTBEAT_MS,
  MEMBER_TTL_MS,
  type Member,
  type MemberPool,
  type MemberReport,
} from './membership.js';
export { KEY_PREFIX, RedisLink, type RedisLinkState } from './redis-link.js';
