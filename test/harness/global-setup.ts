import type { TestProject } from 'vitest/node';
import { type EmbeddedCluster, startEmbeddedCluster } from '../../support/postgres-cluster.js';
import { dockerReachable, startContainerCluster } from './containers.js';

export type DatabaseSource = 'external' | 'testcontainers' | 'embedded';

export interface Databases {
  source: DatabaseSource;
  primaryUrl: string;
  replicaUrl: string | null;
}

declare module 'vitest' {
  export interface ProvidedContext {
    databases: Databases;
  }
}

/**
 * One primary + streaming replica for the whole run: TEST_DATABASE_URL (and TEST_REPLICA_URL)
 * when set; testcontainers when a Docker engine is reachable; otherwise embedded PostgreSQL.
 * Whatever was started is stopped in teardown, also when tests fail.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.TEST_DATABASE_URL) {
    project.provide('databases', {
      source: 'external',
      primaryUrl: process.env.TEST_DATABASE_URL,
      replicaUrl: process.env.TEST_REPLICA_URL ?? null,
    });
    return async () => undefined;
  }
  if (dockerReachable() && process.env.POOLPILOT_TEST_DOCKER !== '0') {
    try {
      const cluster = await startContainerCluster();
      project.provide('databases', {
        source: 'testcontainers',
        primaryUrl: cluster.primaryUrl,
        replicaUrl: cluster.replicaUrl,
      });
      return cluster.stop;
    } catch (error) {
      console.warn(`testcontainers unavailable (${(error as Error).message}); using embedded PostgreSQL`);
    }
  }
  const started = performance.now();
  const cluster: EmbeddedCluster = await startEmbeddedCluster({ replica: true });
  console.log(
    `embedded PostgreSQL 16 primary + streaming replica ready in ${Math.round(performance.now() - started)} ms`,
  );
  project.provide('databases', {
    source: 'embedded',
    primaryUrl: cluster.primaryUrl,
    replicaUrl: cluster.replicaUrl,
  });
  return cluster.stop;
}
