import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fixturePath } from '../../test/fixtures/paths.js';
import { isolaErrorWith } from '../../test/support/errors.js';
import { lockApp } from '../app/index.js';
import { Engine } from '../runtime/index.js';
import { deployApp, undeployApp } from './deploy.js';
import type { WagiComponent } from './wagi.js';

/** An app whose one component prints the files named in its argv (the cat-file fixture). */
function appDir(files: readonly string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'isola-deploy-'));
  copyFileSync(fixturePath('cat-file'), join(dir, 'cat.wasm'));
  mkdirSync(join(dir, 'static/deep'), { recursive: true });
  writeFileSync(join(dir, 'static/a.txt'), 'A');
  writeFileSync(join(dir, 'static/deep/b.txt'), 'B');
  writeFileSync(join(dir, 'notes.txt'), 'N');
  writeFileSync(
    join(dir, 'isola.toml'),
    `manifest_version = 1
[application]
name = "cat"
[[trigger.http]]
route = "/..."
component = "cat"
[component.cat]
source = "cat.wasm"
files = [${files.join(', ')}]
`,
  );
  return dir;
}

describe('deployApp', () => {
  const engine = new Engine({ workers: 1 });
  const dirs: string[] = [];
  after(async () => {
    await engine.destroy();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  async function cat(deployed: Awaited<ReturnType<typeof deployApp>>, ...paths: string[]) {
    const component = deployed.http.components.get('cat') as WagiComponent | undefined;
    assert.ok(component);
    const run = await engine.run(component.module, {
      args: ['cat', ...paths],
      dirs: component.dirs,
      bundles: component.bundles ?? [],
    });
    return {
      code: run.outcome.kind === 'exit' ? run.outcome.code : -1,
      text: Buffer.from(run.stdout).toString(),
    };
  }

  test("serves a component's directory and file mounts from one in-memory bundle, by guest path", async () => {
    const dir = appDir([
      '{ source = "static", destination = "/www" }',
      '{ source = "notes.txt", destination = "/etc/notes" }',
    ]);
    dirs.push(dir);
    const deployed = await deployApp(engine, await lockApp(join(dir, 'isola.toml')));
    const component = deployed.http.components.get('cat') as WagiComponent | undefined;
    assert.deepEqual(component?.dirs, [], 'no host directory is granted');
    assert.equal(component?.bundles?.length, 1);
    assert.deepEqual(await cat(deployed, '/www/a.txt', '/www/deep/b.txt', '/etc/notes'), {
      code: 0,
      text: 'ABN',
    });
    assert.equal((await cat(deployed, '/cat.wasm')).code, 2, 'nothing else of the app directory is there');
    undeployApp(engine, deployed);
  });

  test('runs the files it was locked with, whatever the disk says afterwards', async () => {
    const dir = appDir(['{ source = "static", destination = "/www" }']);
    dirs.push(dir);
    const deployed = await deployApp(engine, await lockApp(join(dir, 'isola.toml')));
    writeFileSync(join(dir, 'static/a.txt'), 'changed');
    assert.deepEqual(await cat(deployed, '/www/a.txt'), { code: 0, text: 'A' });
    undeployApp(engine, deployed);
  });

  test('refuses to deploy a file that changed between lock and deploy, naming it', async () => {
    const dir = appDir(['{ source = "static", destination = "/www" }']);
    dirs.push(dir);
    const locked = await lockApp(join(dir, 'isola.toml'));
    writeFileSync(join(dir, 'static/deep/b.txt'), 'changed');
    await assert.rejects(
      deployApp(engine, locked),
      isolaErrorWith('E_APP_SOURCE_MISSING', /b\.txt changed after/),
    );
  });

  test('grants a directory holding a symbolic link as the host directory, read-only', async () => {
    const dir = appDir(['{ source = "static", destination = "/www" }']);
    dirs.push(dir);
    symlinkSync('a.txt', join(dir, 'static/link.txt'));
    const deployed = await deployApp(engine, await lockApp(join(dir, 'isola.toml')));
    const component = deployed.http.components.get('cat') as WagiComponent | undefined;
    assert.deepEqual(component?.dirs, [{ hostPath: join(dir, 'static'), guestPath: '/www', readOnly: true }]);
    assert.deepEqual(await cat(deployed, '/www/link.txt'), { code: 0, text: 'A' });
    undeployApp(engine, deployed);
  });

  test("renders a component's variables from the app's values into its environment, and refuses a missing required one", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'isola-deploy-vars-'));
    dirs.push(dir);
    copyFileSync(fixturePath('args-env'), join(dir, 'env.wasm'));
    writeFileSync(
      join(dir, 'isola.toml'),
      `manifest_version = 1
[application]
name = "vars"
[variables]
api_host = { default = "https://api.example.com" }
api_token = { required = true, secret = true }
[[trigger.http]]
route = "/..."
component = "env"
[component.env]
source = "env.wasm"
variables = { api_url = "{{ api_host }}/v1", api_token = "{{ api_token }}" }
`,
    );
    const locked = await lockApp(join(dir, 'isola.toml'));
    assert.doesNotMatch(JSON.stringify(locked), /t0k3n/);
    const deployed = await deployApp(engine, locked, { variables: { values: { api_token: 't0k3n' } } });
    const component = deployed.http.components.get('env') as WagiComponent | undefined;
    assert.ok(component);
    const run = await engine.run(component.module, { args: ['env'], env: component.env });
    const printed = Buffer.from(run.stdout).toString();
    assert.match(printed, /API_URL=https:\/\/api\.example\.com\/v1/);
    assert.match(printed, /API_TOKEN=t0k3n/);
    assert.doesNotMatch(deployed.lockedJson, /t0k3n/, 'values stay out of the lock');
    undeployApp(engine, deployed);
    await assert.rejects(
      deployApp(engine, locked, { variables: { env: {} } }),
      isolaErrorWith('E_VARIABLE_MISSING', /api_token/),
    );
  });
});
