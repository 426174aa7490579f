import { INTERVAL_LIMITS } from '../../../core/telemetry/index.js';

export const INTERVAL_ARG_DESCRIPTION =
  `Milliseconds between samples (default ${INTERVAL_LIMITS.defaultMs}), rounded up to one of ` +
  `${INTERVAL_LIMITS.stepsMs!.join(', ')}; each sample's intervalMs is the interval in effect. ` +
  'Subscribers with the same effective interval share one sampler; the first sample is sent at once and a ' +
  'slow reader gets the newest sample, not a backlog.';
