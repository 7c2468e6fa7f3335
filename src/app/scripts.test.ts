import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { routeOf, scriptsManifest } from './scripts.js';

describe('apps of scripts', () => {
  test('a script path becomes its route: index names its directory, [name] a parameter, [...rest] what is below', () => {
    assert.equal(routeOf('api/hello.py'), '/api/hello');
    assert.equal(routeOf('index.py'), '/');
    assert.equal(routeOf('api/index.rb'), '/api');
    assert.equal(routeOf('api/users/[id].rb'), '/api/users/:id');
    assert.equal(routeOf('files/[...path].js'), '/files/...');
    assert.equal(routeOf('api/time.js'), '/api/time');
  });

  test('every script outside _ and . directories is a component run by the runtime of its extension', async () => {
    const manifest = await scriptsManifest(resolve(import.meta.dirname, '../../test/fixtures/scripts-app'));
    assert.ok(manifest);
    assert.deepEqual(
      manifest.httpTriggers.map((trigger) => [trigger.route, trigger.component]),
      [
        ['/api/boom', 'api-boom'],
        ['/api/echo', 'api-echo'],
        ['/api/greet', 'api-greet'],
        ['/api/hello', 'api-hello'],
        ['/api/outside', 'api-outside'],
        ['/api/time', 'api-time'],
        ['/api/users/:id', 'api-users-id'],
        ['/', 'index'],
      ],
    );
    for (const component of manifest.components) {
      const expected = { 'api-time': 'javascript', 'api-greet': 'ruby' }[component.name] ?? 'python';
      assert.equal(component.runtime?.name, expected);
      assert.equal(component.runtime?.appDir, '.');
    }
  });

  test('a directory without scripts is no app of scripts, and a route that cannot be is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'isola-scripts-'));
    try {
      writeFileSync(join(dir, 'notes.txt'), 'no scripts');
      mkdirSync(join(dir, '_private'));
      writeFileSync(join(dir, '_private/hidden.py'), 'print()');
      assert.equal(await scriptsManifest(dir), undefined);
      writeFileSync(join(dir, 'what?.py'), 'print()');
      await assert.rejects(scriptsManifest(dir), /rename the script/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
