import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config/index.js';

describe('REDIS_URL and INSTANCE_NAME', () => {
  it('runs alone without REDIS_URL, named host-pid', () => {
    const config = loadConfig({});
    expect(config.redisUrl).toBeNull();
    expect(config.instanceName).toBe(`${hostname()}-${process.pid}`);
  });

  it('takes redis:// and rediss:// URLs and a name', () => {
    expect(loadConfig({ REDIS_URL: 'redis://:pw@cache:6380/2', INSTANCE_NAME: ' pp-1 ' })).toMatchObject({
      redisUrl: 'redis://:pw@cache:6380/2',
      instanceName: 'pp-1',
    });
    expect(loadConfig({ REDIS_URL: 'rediss://cache' }).redisUrl).toBe('rediss://cache');
  });

  it('refuses anything else, naming the variable and masking the password', () => {
    const attempt = () => loadConfig({ REDIS_URL: 'http://u:s3cret@cache:6379' });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/REDIS_URL="http:\/\/u:\*+@cache:6379" is not accepted: expected redis:\/\//);
    expect(attempt).not.toThrow(/s3cret/);
    expect(() => loadConfig({ REDIS_URL: 'not a url' })).toThrow(/REDIS_URL="not a url" is not accepted/);
  });
});
