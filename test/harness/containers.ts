import { existsSync } from 'node:fs';
import { GenericContainer, Network, type StartedTestContainer, Wait } from 'testcontainers';

/**
 * The same primary + streaming replica as the embedded harness, from the `postgres:16` image,
 * for machines with a Docker engine. The replica is made with pg_basebackup -R inside its own
 * container, over a private network.
 */
export function dockerReachable(): boolean {
  return Boolean(process.env.DOCKER_HOST) || existsSync('/var/run/docker.sock');
}

export interface ContainerCluster {
  primaryUrl: string;
  replicaUrl: string;
  stop(): Promise<void>;
}

const PASSWORD = 'poolpilot-test';

export async function startContainerCluster(): Promise<ContainerCluster> {
  const network = await new Network().start();
  const started: StartedTestContainer[] = [];
  const stop = async () => {
    await Promise.allSettled(started.reverse().map((c) => c.stop()));
    await network.stop().catch(() => undefined);
  };
  try {
    const primary = await new GenericContainer('postgres:16')
      .withNetwork(network)
      .withNetworkAliases('primary')
      .withEnvironment({ POSTGRES_PASSWORD: PASSWORD, POSTGRES_HOST_AUTH_METHOD: 'scram-sha-256' })
      .withCommand([
        'postgres',
        '-c',
        'shared_preload_libraries=pg_stat_statements',
        '-c',
        'wal_level=replica',
        '-c',
        'max_connections=200',
        '-c',
        'fsync=off',
      ])
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .start();
    started.push(primary);
    await primary.exec([
      'psql',
      '-U',
      'postgres',
      '-c',
      'CREATE EXTENSION IF NOT EXISTS pg_stat_statements',
      '-c',
      "ALTER SYSTEM SET listen_addresses = '*'",
    ]);
    const replica = await new GenericContainer('postgres:16')
      .withNetwork(network)
      .withEnvironment({ PGPASSWORD: PASSWORD })
      .withUser('postgres')
      .withEntrypoint(['bash', '-c'])
      .withCommand([
        'rm -rf /tmp/standby && pg_basebackup -h primary -U postgres -D /tmp/standby -R -X stream && chmod 700 /tmp/standby && ' +
          'exec postgres -D /tmp/standby -c shared_preload_libraries=pg_stat_statements -c max_connections=200',
      ])
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forLogMessage(/ready to accept read-only connections/))
      .start();
    started.push(replica);
    const url = (c: StartedTestContainer) =>
      `postgres://postgres:${PASSWORD}@${c.getHost()}:${c.getMappedPort(5432)}/postgres`;
    return { primaryUrl: url(primary), replicaUrl: url(replica), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
