import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { componentFixtureBytes } from '../../test/fixtures/components/build.js';
import { isIsolaError } from '../errors.js';
import { compileComponent, transpileComponent } from './transpile.js';
import { readComponentWorld } from './world.js';

const cacheDir = mkdtempSync(join(tmpdir(), 'isola-transpile-'));
after(() => rmSync(cacheDir, { recursive: true, force: true }));

describe('component transpile', () => {
  test('a component importing interfaces isola does not provide is refused, naming each of them', async () => {
    const bytes = await componentFixtureBytes('unknown-imports');
    await assert.rejects(transpileComponent(bytes, { cacheDir }), (error) => {
      assert.ok(isIsolaError(error, 'E_MODULE_UNSUPPORTED_IMPORTS'));
      assert.match(error.message, /wasi:sockets\/tcp@0\.2\.10/);
      assert.match(error.message, /example:weather\/forecast@1\.0\.0/);
      assert.deepEqual(error.details.unsupported, [
        'wasi:sockets/tcp@0.2.10',
        'example:weather/forecast@1.0.0',
      ]);
      return true;
    });
  });

  test('a component without a wasi:http/incoming-handler export is refused, naming what it exports', async () => {
    const bytes = await componentFixtureBytes('command-no-handler');
    await assert.rejects(transpileComponent(bytes, { cacheDir }), (error) => {
      assert.ok(isIsolaError(error, 'E_MODULE_COMPONENT'));
      assert.match(error.message, /exports no wasi:http\/incoming-handler@0\.2\.x/);
      assert.match(error.message, /wasi:cli\/run@0\.2\.10/);
      return true;
    });
  });

  test('a core module is refused as a component, with what to build instead', () => {
    const core = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    assert.throws(
      () => readComponentWorld(core),
      (error) => {
        assert.ok(isIsolaError(error, 'E_MODULE_INVALID'));
        assert.match(error.message, /not a component/);
        return true;
      },
    );
  });

  test('the hello component transpiles once, then comes from the cache by its digest', async (t) => {
    const bytes = await componentFixtureBytes('hello-http');
    const first = await transpileComponent(bytes, { cacheDir });
    t.diagnostic(
      `jco transpile of the ${(bytes.length / 1e6).toFixed(1)} MB hello component: ${first.transpileMs.toFixed(0)} ms`,
    );
    assert.ok(first.transpileMs > 0);
    assert.equal(first.handlerExport, 'wasi:http/incoming-handler@0.2.10');
    assert.ok(first.world.imports.some((name) => name.startsWith('wasi:http/types@0.2.')));
    const second = await transpileComponent(bytes, { cacheDir });
    assert.equal(second.transpileMs, 0);
    assert.equal(second.digest, first.digest);
    assert.deepEqual(second.coreModules, first.coreModules);

    const compiled = await compileComponent(second);
    assert.deepEqual(Object.keys(compiled.modules).sort(), [...first.coreModules].sort());
    const memories = Object.values(compiled.memories);
    assert.equal(memories.length, 1, 'the one defined memory is rewritten into an import');
    assert.ok(memories[0]!.minPages > 0);
  });
});
