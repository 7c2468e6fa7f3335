import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { IsolaError, isIsolaError } from '../errors.js';
import { parseManifest } from './parse.js';
import { findManifest } from './read.js';

const EXAMPLE = `manifest_version = 1

[application]
name = "hello"

[[trigger.http]]
route = "/hello/..."
component = "hello"

[component.hello]
source = "hello.wasm"
files = [{ source = "static", destination = "/static" }]
environment = { GREETING = "hi" }

[component.hello.limits]
timeout_ms = 200
memory_limit_mb = 64
`;

function refusal(text: string): IsolaError {
  try {
    parseManifest(text, 'isola.toml');
  } catch (error) {
    assert.ok(isIsolaError(error));
    return error;
  }
  assert.fail('the manifest was accepted');
}

describe('parseManifest', () => {
  it("reads the issue's example as written", () => {
    assert.deepEqual(parseManifest(EXAMPLE), {
      format: 'isola',
      application: { name: 'hello', authors: [] },
      variables: {},
      httpTriggers: [{ key: 'trigger.http[0]', route: '/hello/...', component: 'hello' }],
      components: [
        {
          name: 'hello',
          source: 'hello.wasm',
          files: [
            { kind: 'placement', key: 'component.hello.files[0]', source: 'static', destination: '/static' },
          ],
          environment: { GREETING: 'hi' },
          variables: {},
          allowedOutboundHosts: [],
          keyValueStores: [],
          limits: { timeout_ms: 200, memory_limit_mb: 64 },
        },
      ],
    });
  });

  it('tells a Spin manifest by its version key', () => {
    const spin = EXAMPLE.replace('manifest_version = 1', 'spin_manifest_version = 2');
    assert.equal(parseManifest(spin, 'spin.toml').format, 'spin');
  });

  it('accepts a Spin grant that isola lacks when it is empty, since it grants nothing', () => {
    const text = EXAMPLE.replace('source = "hello.wasm"', 'source = "hello.wasm"\nsqlite_databases = []');
    assert.equal(parseManifest(text).components[0]?.name, 'hello');
  });

  it('keeps an environment variable named __proto__ as a variable', () => {
    const text = EXAMPLE.replace('{ GREETING = "hi" }', '{ "__proto__" = "x" }');
    const environment = parseManifest(text).components[0]?.environment ?? {};
    assert.ok(Object.hasOwn(environment, '__proto__'));
    assert.deepEqual(Object.entries(environment), [['__proto__', 'x']]);
  });

  it('reads build commands given as one string or as a list', () => {
    const one = EXAMPLE.replace(
      '[component.hello.limits]',
      '[component.hello.build]\ncommand = "make"\n\n[component.hello.limits]',
    );
    assert.deepEqual(parseManifest(one).components[0]?.build, { commands: ['make'], watch: [] });
    const list = one.replace('command = "make"', 'command = ["make", "make test"]\nworkdir = "src"');
    assert.deepEqual(parseManifest(list).components[0]?.build, {
      commands: ['make', 'make test'],
      watch: [],
      workdir: 'src',
    });
  });

  it('refuses with a code, the key and the file in its details, which survive JSON', () => {
    const error = refusal(EXAMPLE.replace('timeout_ms = 200', 'timeout_ms = "200"'));
    const copy = IsolaError.fromJSON(JSON.parse(JSON.stringify(error)));
    assert.equal(copy.code, 'E_MANIFEST_INVALID');
    assert.deepEqual(copy.details, { manifest: 'isola.toml', key: 'component.hello.limits.timeout_ms' });
  });

  it('reads key-value stores and outbound hosts as granted', () => {
    const text = EXAMPLE.replace(
      'source = "hello.wasm"',
      'source = "hello.wasm"\nkey_value_stores = ["default", "cache_2"]\nallowed_outbound_hosts = ["https://*.example.com", "http://localhost:8080"]',
    );
    const [component] = parseManifest(text).components;
    assert.deepEqual(component?.keyValueStores, ['default', 'cache_2']);
    assert.deepEqual(component?.allowedOutboundHosts, ['https://*.example.com', 'http://localhost:8080']);
  });

  it('refuses a bad outbound host naming its entry and what to write', () => {
    const error = refusal(
      EXAMPLE.replace(
        'source = "hello.wasm"',
        'source = "hello.wasm"\nallowed_outbound_hosts = ["example.com"]',
      ),
    );
    assert.equal(error.code, 'E_MANIFEST_INVALID');
    assert.match(error.message, /allowed_outbound_hosts\[0\] "example\.com"/);
  });

  it('refuses a store listed twice and a label that is not one', () => {
    const twice = refusal(
      EXAMPLE.replace('source = "hello.wasm"', 'source = "hello.wasm"\nkey_value_stores = ["a", "a"]'),
    );
    assert.match(twice.message, /lists "a" twice/);
    const bad = refusal(
      EXAMPLE.replace('source = "hello.wasm"', 'source = "hello.wasm"\nkey_value_stores = ["Default"]'),
    );
    assert.equal(bad.details.key, 'component.hello.key_value_stores[0]');
  });

  it('refuses an integer too large to hold exactly rather than rounding it', () => {
    const error = refusal(EXAMPLE.replace('timeout_ms = 200', 'timeout_ms = 99999999999999999999'));
    assert.match(error.message, /timeout_ms = 99999999999999999999 is too large/);
  });

  it('refuses a manifest without triggers', () => {
    const error = refusal('manifest_version = 1\n[application]\nname = "x"\n');
    assert.match(error.message, /has no trigger: add \[\[trigger\.http\]\]/);
  });

  it('refuses a syntax error at its line and column, with the excerpt in the details', () => {
    const error = refusal('manifest_version = 1\n[application\n');
    assert.match(error.message, /^isola\.toml:2:\d+: invalid TOML: /);
    assert.equal(error.details.line, 2);
    assert.equal(typeof error.details.excerpt, 'string');
  });
});

describe('findManifest', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'isola-find-'));
  after(() => rm(dir, { recursive: true, force: true }));

  it("prefers a directory's isola.toml to its spin.toml", async () => {
    await writeFile(join(dir, 'spin.toml'), '');
    assert.equal(await findManifest(dir), join(dir, 'spin.toml'));
    await writeFile(join(dir, 'isola.toml'), '');
    assert.equal(await findManifest(dir), join(dir, 'isola.toml'));
  });

  it('refuses a path that does not exist, naming it', async () => {
    await assert.rejects(findManifest(join(dir, 'nope.toml')), (error: unknown) => {
      assert.ok(isIsolaError(error, 'E_MANIFEST_READ'));
      assert.match(error.message, /nope\.toml: no such file or directory/);
      return true;
    });
  });
});
