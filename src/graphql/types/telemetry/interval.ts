import { INTERVAL_LIMITS } from '../../../core/telemetry/index.js';

export const INTERVAL_ARG_DESCRIPTION =
  `Milliseconds between samples (default ${INTERVAL_LIMITS.defaultMs}, clamped to ` +
  `${INTERVAL_LIMITS.minMs}..${INTERVAL_LIMITS.maxMs}). Subscribers with the same interval share one sampler; ` +
  'the first sample is sent at once and a slow reader gets the newest sample, not a backlog.';
