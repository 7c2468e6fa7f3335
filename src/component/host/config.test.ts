import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { COMPONENTS_DIR, componentFixtureBytes } from '../../../test/fixtures/components/build.js';
import { isIsolaError } from '../../errors.js';
import { ComponentRunner, type RunOptions } from '../run.js';
import { type CompiledComponent, compileComponent, transpileComponent } from '../transpile.js';
import { checkComponentWorld } from '../world.js';

// Transpiled output is content-addressed, so a cache beside the built fixtures is safe to keep.
const cacheDir = join(COMPONENTS_DIR, 'transpiled');
const runner = new ComponentRunner();
let kvCounter: CompiledComponent;

before(async () => {
  mkdirSync(cacheDir, { recursive: true });
  kvCounter = await compileComponent(
    await transpileComponent(await componentFixtureBytes('kv-counter'), { cacheDir }),
  );
  await runner.load(kvCounter);
});

/** Runs `path` on a fresh instance; fails the test when the instance itself fails. */
async function call(path: string, options: RunOptions = {}) {
  const result = await runner.handle(
    kvCounter,
    { method: 'GET', url: `http://app.test${path}`, headers: [] },
    options,
  );
  if (!result.ok) assert.fail(`${result.error.code}: ${result.error.message}\n${result.stderr}`);
  return { status: result.response.status, text: Buffer.concat(result.response.body).toString('utf8') };
}

const config = [
  ['api_url', 'https://api.example.com/v1'],
  ['api_token', 'sk-ünïcode-🔑'],
  ['empty', ''],
] as const;

describe('wasi:config', () => {
  test('get returns a variable by its manifest name, the empty string included', async () => {
    assert.equal(
      (await call('/config?name=api_url', { grants: { config } })).text,
      'https://api.example.com/v1',
    );
    assert.equal((await call('/config?name=api_token', { grants: { config } })).text, 'sk-ünïcode-🔑');
    const empty = await call('/config?name=empty', { grants: { config } });
    assert.deepEqual([empty.status, empty.text], [200, '']);
  });

  test('get of a name the component has no variable for is none', async () => {
    assert.equal((await call('/config?name=API_URL', { grants: { config } })).status, 404);
    assert.equal((await call('/config?name=api_url')).status, 404);
  });

  test('get-all returns every variable as name and value, in manifest order', async () => {
    assert.deepEqual(JSON.parse((await call('/config-all', { grants: { config } })).text), config);
  });

  test('a component granted no variables sees an empty list', async () => {
    assert.deepEqual(JSON.parse((await call('/config-all')).text), []);
  });

  test('a component importing wasi:config at another version is refused at deploy, naming the one isola serves', () => {
    const world = {
      imports: ['wasi:config/store@0.2.0-draft2'],
      exports: ['wasi:http/incoming-handler@0.2.10'],
    };
    assert.throws(
      () => checkComponentWorld(world),
      (error) => {
        assert.ok(isIsolaError(error, 'E_MODULE_UNSUPPORTED_IMPORTS'));
        assert.deepEqual(error.details.unsupported, ['wasi:config/store@0.2.0-draft2']);
        assert.match(error.message, /wasi:config\/store at 0\.2\.0-draft;/);
        return true;
      },
    );
    const served = { ...world, imports: ['wasi:config/store@0.2.0-draft'] };
    assert.equal(checkComponentWorld(served), 'wasi:http/incoming-handler@0.2.10');
  });
});
