import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { componentFixtureBytes } from '../../test/fixtures/components/build.js';
import { wat } from '../../test/support/wat.js';
import { isIsolaError } from '../errors.js';
import { lockApp } from './lock.js';

const root = await mkdtemp(join(tmpdir(), 'isola-lock-'));
after(() => rm(root, { recursive: true, force: true }));
const command = await wat('(module (func (export "_start")))');
let apps = 0;

/** A fresh app directory with `app.wasm`, a manifest whose component has `extra` lines, and `files`. */
async function app(extra: string, files: Record<string, string> = {}): Promise<string> {
  const dir = join(root, `app-${apps++}`);
  await mkdir(dir);
  await writeFile(join(dir, 'app.wasm'), command);
  const manifest = `manifest_version = 1
[application]
name = "app"
[[trigger.http]]
route = "/..."
component = "app"
[component.app]
source = "app.wasm"
${extra}
`;
  await writeFile(join(dir, 'isola.toml'), manifest);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  return dir;
}

describe('lockApp', () => {
  it('produces plain JSON: a round trip changes nothing', async () => {
    const locked = await lockApp(await app('files = ["static"]', { 'static/a.txt': 'a' }));
    assert.deepEqual(JSON.parse(JSON.stringify(locked)), locked);
  });

  it('notices a change to any mounted file', async () => {
    const dir = await app('files = [{ source = "static", destination = "/s" }]', {
      'static/deep/a.txt': 'one',
    });
    const before = await lockApp(dir);
    await writeFile(join(dir, 'static/deep/a.txt'), 'two');
    const later = await lockApp(dir);
    assert.notDeepEqual(later.components[0]?.files, before.components[0]?.files);
    assert.deepEqual(later.components[0]?.source, before.components[0]?.source);
  });

  it('lists a symlink in a mounted directory by its target, without following it', async () => {
    const dir = await app('files = [{ source = "static", destination = "/s" }]', { 'static/a.txt': 'a' });
    await symlink('/etc', join(dir, 'static/escape'));
    const [mount] = (await lockApp(dir)).components[0]?.files ?? [];
    assert.equal(mount?.kind, 'directory');
    assert.deepEqual(mount?.kind === 'directory' && mount.entries.map((entry) => entry.path), [
      'a.txt',
      'escape',
    ]);
    assert.deepEqual(mount?.kind === 'directory' && mount.entries[1], { path: 'escape', symlink: '/etc' });
  });

  it('refuses files that reach past maxFileEntries, naming the key', async () => {
    const dir = await app('files = ["static"]', { 'static/a': '', 'static/b': '', 'static/c': '' });
    await assert.rejects(lockApp(dir, { maxFileEntries: 2 }), (error: unknown) => {
      assert.ok(isIsolaError(error, 'E_APP_FILES_LIMIT'));
      assert.match(error.message, /component\.app\.files\[0\]: the app's files come to more than 2 entries/);
      return true;
    });
  });

  it('refuses a source larger than maxSourceBytes', async () => {
    await assert.rejects(lockApp(await app(''), { maxSourceBytes: 8 }), (error: unknown) =>
      isIsolaError(error, 'E_APP_FILES_LIMIT'),
    );
  });

  it('refuses two mounts at one guest path', async () => {
    const dir = await app('files = ["a.txt", { source = "b.txt", destination = "/a.txt" }]', {
      'a.txt': 'a',
      'b.txt': 'b',
    });
    await assert.rejects(
      lockApp(dir),
      /files\[1\] mounts \/a\.txt, which component\.app\.files\[0\] already mounts/,
    );
  });

  it('keeps limits as overrides in the engine’s names and units', async () => {
    const locked = await lockApp(
      await app('[component.app.limits]\nmemory_limit_mb = 2\nmax_stdin_bytes = 0'),
    );
    assert.deepEqual(locked.components[0]?.limits, { maxMemoryBytes: 2 * 1024 * 1024, maxStdinBytes: 0 });
  });
});

describe('lockApp, for a WASI 0.2 component', () => {
  /** An app whose source is the component fixture `name`, with `extra` lines in its trigger. */
  async function componentApp(name: string, trigger = '', component = ''): Promise<string> {
    const dir = join(root, `component-${apps++}`);
    await mkdir(dir);
    await writeFile(join(dir, 'app.wasm'), await componentFixtureBytes(name));
    await writeFile(
      join(dir, 'isola.toml'),
      `manifest_version = 1\n[application]\nname = "app"\n[[trigger.http]]\nroute = "/..."\ncomponent = "app"\n${trigger}\n[component.app]\nsource = "app.wasm"\n${component}\n`,
    );
    return dir;
  }

  it('serves a component exporting wasi:http/incoming-handler by that handler', async () => {
    const locked = await lockApp(await componentApp('trap-unreachable'));
    assert.deepEqual(locked.routes[0]?.executor, {
      type: 'wasi-http',
      handler: 'wasi:http/incoming-handler@0.2.10',
    });
  });

  it('refuses a component that imports an interface isola does not provide, naming it', async () => {
    await assert.rejects(lockApp(await componentApp('unknown-imports')), (error: unknown) => {
      assert.ok(isIsolaError(error, 'E_MODULE_UNSUPPORTED_IMPORTS'));
      assert.match(error.message, /component\.app\.source names .*app\.wasm: component imports/);
      return true;
    });
  });

  it('refuses a component that exports no HTTP handler', async () => {
    await assert.rejects(lockApp(await componentApp('command-no-handler')), (error: unknown) =>
      isIsolaError(error, 'E_MODULE_COMPONENT'),
    );
  });

  it('refuses WAGI settings and instance reuse on a component', async () => {
    await assert.rejects(
      lockApp(await componentApp('trap-unreachable', 'executor = { type = "wagi" }')),
      /remove executor/,
    );
    await assert.rejects(
      lockApp(await componentApp('trap-unreachable', '', 'instance_reuse = 10')),
      /fresh instance per request/,
    );
  });
});
