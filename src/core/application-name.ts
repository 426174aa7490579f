/**
 * How poolpilot's own sessions are named in pg_stat_activity, so that every part of the service
 * counts them apart and never terminates them. Pooled connections carry the bare name; helper
 * sessions add a suffix.
 */
export const APPLICATION_NAME = 'poolpilot';
export const HEALTH_APPLICATION_NAME = `${APPLICATION_NAME}-health`;
/** The control-plane pool (insights, optimizer, telemetry, audit): never counted as the data pool. */
export const ADMIN_APPLICATION_NAME = `${APPLICATION_NAME}-admin`;

/** Every application_name poolpilot itself connects with. */
export const OWN_APPLICATIONS: readonly string[] = [
  APPLICATION_NAME,
  HEALTH_APPLICATION_NAME,
  ADMIN_APPLICATION_NAME,
];

/**
 * Leads every statement poolpilot sends of its own (planning, insights, health): pg_stat_statements
 * keeps the comment, so slow-query reports can leave poolpilot's own work out.
 */
export const OWN_MARK = '/* poolpilot */';

export function isOwnApplication(name: string | null | undefined): boolean {
  return name === APPLICATION_NAME || (name?.startsWith(`${APPLICATION_NAME}-`) ?? false);
}
