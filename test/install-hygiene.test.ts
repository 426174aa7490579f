import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
const packages = Object.entries(lock.packages as Record<string, Record<string, any>>).filter(
  ([p]) => p !== '',
);
const nameOf = (path: string) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);

/**
 * What keeps `npm ci` quiet on the oldest supported Node, checked from the lockfile (no install):
 * every locked package accepts that Node (no EBADENGINE), and every package with an install
 * script is allowed or denied on purpose in package.json's allowScripts.
 */
describe('a clean install', () => {
  const oldest = semver.minVersion(pkg.engines.node)!.version;

  it(`locks only packages that run on Node ${oldest}`, () => {
    const refusing = packages
      .filter(([, p]) => typeof p.engines?.node === 'string' && !p.optional)
      .filter(([, p]) => !semver.satisfies(oldest, p.engines.node))
      .map(([path, p]) => `${nameOf(path)}@${p.version} wants node ${p.engines.node}`);
    expect(refusing).toEqual([]);
  });

  it('decides every install script in allowScripts', () => {
    const undecided = packages
      .filter(([, p]) => p.hasInstallScript)
      .map(([path]) => nameOf(path))
      .filter((name) => typeof pkg.allowScripts?.[name] !== 'boolean');
    expect(undecided).toEqual([]);
  });
});
