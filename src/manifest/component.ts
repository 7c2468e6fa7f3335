/**
 * `[component.NAME]`: the Wasm source and what it is granted (files, environment, outbound hosts,
 * key-value stores, variables) and limited to. Each grant is checked for shape here, naming the
 * key to fix; whether the source can use it is the lock's to check.
 */
import { posix } from 'node:path';
import { isIsolaError } from '../errors.js';
import { AllowList } from '../outbound/allow-list.js';
import { MANIFEST_LIMIT_KEYS, type ManifestLimitKey, type ManifestLimits } from './limits.js';
import {
  type BuildSettings,
  type ComponentManifest,
  type FileMount,
  RUNTIME_NAMES,
  type RuntimeName,
  type ScriptRuntime,
} from './manifest.js';
import { describeType, isTable, type KeySpec, keyPath, TableReader } from './table-reader.js';

/** Calls one reused instance may serve at most (the engine's MAX_REUSE_INVOCATIONS). */
export const MAX_INSTANCE_REUSE = 1_000_000;

const COMPONENT_KEYS: KeySpec = {
  known: [
    'source',
    'description',
    'files',
    'environment',
    'allowed_outbound_hosts',
    'key_value_stores',
    'variables',
    'build',
    'limits',
    'instance_reuse',
    'tool',
    'runtime',
    'script',
    'app_dir',
  ],
  unsupported: {
    exclude_files: 'list only the files to include in files instead',
    allowed_http_hosts:
      'it is the old spelling of allowed_outbound_hosts: rename it, writing each host as scheme://host[:port]',
    sqlite_databases: 'isola has no SQLite databases; remove it',
    ai_models: 'isola has no AI models; remove it',
    dependencies: 'isola does not compose components; remove it',
    dependencies_inherit_configuration: 'isola does not compose components; remove it',
    profile: 'isola has no build profiles; remove it',
  },
};

const KEBAB_CASE = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const LOWER_SNAKE_CASE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
const STORE_LABEL = /^[a-z][a-z0-9]*([-_][a-z0-9]+)*$/;

/** Reads every `[component.NAME]`, in the manifest's order. */
export function readComponents(root: TableReader): ComponentManifest[] {
  const value = root.raw('component');
  if (value === undefined) return [];
  if (!isTable(value)) throw root.wrongType('component', 'a table', '[component.NAME]');
  return Object.entries(value).map(([name, table]) => {
    const path = keyPath('component', name);
    if (!KEBAB_CASE.test(name)) {
      const fix = name
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-+|-+$/g, '');
      throw root.error(
        `component name ${JSON.stringify(name)} is not kebab-case: rename [${path}] to [component.${fix || 'my-component'}] ` +
          '(lowercase letters, digits and single hyphens, starting with a letter)',
        { key: path },
      );
    }
    if (!isTable(table)) {
      throw root.error(`${path} must be a table, not ${describeType(table)}: write [${path}]`);
    }
    return readComponent(new TableReader(root.file, path, table, COMPONENT_KEYS), name);
  });
}

function readComponent(table: TableReader, name: string): ComponentManifest {
  const runtime = readRuntime(table);
  const component: ComponentManifest = {
    name,
    source: runtime === undefined ? readSource(table) : '',
    files: runtime === undefined ? readFiles(table) : [],
    environment: readEnvironment(table),
    variables: readComponentVariables(table),
    allowedOutboundHosts: readOutboundHosts(table),
    keyValueStores: readKeyValueStores(table),
    limits: readLimits(table),
  };
  if (runtime !== undefined) component.runtime = runtime;
  const description = table.string('description');
  if (description !== undefined) component.description = description;
  const reuse = readInstanceReuse(table);
  if (reuse !== undefined) component.instanceReuse = reuse;
  const build = readBuild(table);
  if (build !== undefined) component.build = build;
  table.opaqueTable('tool');
  return component;
}

/**
 * `runtime = "python"` and `script = "app.py"` (and `app_dir`, default the script's directory):
 * the interpreter is isola's, so `source` is refused, and the whole app directory is bundled at
 * `/app`, so `files` is too.
 */
function readRuntime(table: TableReader): ScriptRuntime | undefined {
  const name = table.string('runtime', 'runtime = "python"');
  if (name === undefined) {
    for (const key of ['script', 'app_dir']) {
      if (table.raw(key) !== undefined) {
        throw table.invalid(
          key,
          'is only for a script run by a runtime: add runtime = "python", "ruby" or "javascript"',
        );
      }
    }
    return undefined;
  }
  if (!(RUNTIME_NAMES as readonly string[]).includes(name)) {
    const names = RUNTIME_NAMES.map((runtime) => `"${runtime}"`).join(', ');
    throw table.invalid(
      'runtime',
      `= ${JSON.stringify(name)} is not a runtime isola has: use one of ${names}`,
    );
  }
  if (table.raw('source') !== undefined) {
    throw table.invalid(
      'source',
      `cannot be set with runtime = "${name}": the runtime brings the .wasm; remove source`,
    );
  }
  if (table.raw('files') !== undefined) {
    throw table.invalid(
      'files',
      `cannot be set with runtime = "${name}": the whole app_dir is bundled at /app; remove files, or set app_dir`,
    );
  }
  const script = checkRelative(table, 'script', table.requiredString('script', 'script = "app.py"'));
  const appDir = checkRelative(
    table,
    'app_dir',
    table.string('app_dir', 'app_dir = "."') ?? posix.dirname(script),
  );
  const inside = posix.relative(appDir, script);
  if (inside === '' || inside.startsWith('..')) {
    throw table.invalid(
      'script',
      `= ${JSON.stringify(script)} is not inside app_dir (${JSON.stringify(appDir)}): move it there, or set app_dir`,
    );
  }
  return { name: name as RuntimeName, script: posix.normalize(script), appDir: posix.normalize(appDir) };
}

function checkRelative(table: TableReader, key: string, path: string): string {
  const normal = posix.normalize(path);
  if (path === '' || posix.isAbsolute(path) || normal === '..' || normal.startsWith('../')) {
    throw table.invalid(
      key,
      `= ${JSON.stringify(path)} must be a path inside the app, relative to the manifest`,
    );
  }
  return normal;
}

function readSource(table: TableReader): string {
  const value = table.raw('source');
  if (isTable(value)) {
    throw table.error(
      `${table.key('source')} as a table (a URL or registry package) is not supported yet: ` +
        'download the .wasm file and write source = "path/to/app.wasm"',
      { key: table.key('source') },
      'E_MANIFEST_UNSUPPORTED',
    );
  }
  const source = table.requiredString('source', 'source = "app.wasm"');
  if (source === '') {
    throw table.invalid('source', 'is empty: write the path of the .wasm file, as in source = "app.wasm"');
  }
  return source;
}

function readFiles(table: TableReader): FileMount[] {
  const value = table.raw('files');
  if (value === undefined) return [];
  const example = 'files = ["static/**/*", { source = "assets", destination = "/assets" }]';
  if (!Array.isArray(value)) throw table.wrongType('files', 'a list', example);
  return value.map((entry, index) => {
    const key = `${table.key('files')}[${index}]`;
    if (typeof entry === 'string') return { kind: 'pattern', key, pattern: checkPattern(table, key, entry) };
    if (!isTable(entry)) {
      throw table.error(
        `${key} must be a path or a { source, destination } table, not ${describeType(entry)}: ${example}`,
        { key },
      );
    }
    const placement = new TableReader(table.file, key, entry, { known: ['source', 'destination'] });
    const source = placement.requiredString('source', 'source = "assets"');
    const destination = checkDestination(
      placement,
      placement.requiredString('destination', 'destination = "/assets"'),
    );
    return { kind: 'placement', key, source, destination };
  });
}

/** A plain `files` entry appears at the same path in the guest, so it must stay inside the app. */
function checkPattern(table: TableReader, key: string, pattern: string): string {
  const normalized = posix.normalize(pattern).replace(/\/+$/, '');
  const fix = `mount it with { source = ${JSON.stringify(pattern)}, destination = "/some/guest/path" }`;
  if (pattern === '' || normalized === '.') {
    throw table.error(`${key} is empty: name a file, directory or glob relative to the manifest`, { key });
  }
  if (posix.isAbsolute(pattern)) throw table.error(`${key} "${pattern}" is absolute: ${fix}`, { key });
  if (normalized === '..' || normalized.startsWith('../')) {
    throw table.error(`${key} "${pattern}" leads outside the manifest's directory: ${fix}`, { key });
  }
  return normalized;
}

function checkDestination(table: TableReader, destination: string): string {
  if (!destination.startsWith('/')) {
    throw table.invalid('destination', `"${destination}" is not absolute: write "/${destination}"`);
  }
  if (destination.split('/').includes('..')) {
    throw table.invalid('destination', `"${destination}" has a .. segment: write the guest path without it`);
  }
  const normalized = posix.normalize(destination);
  return normalized.length > 1 ? normalized.replace(/\/+$/, '') : normalized;
}

function readEnvironment(table: TableReader): Record<string, string> {
  const entries = table.stringTable('environment', 'environment = { NAME = "value" }');
  for (const [name, value] of entries) {
    const key = keyPath(table.key('environment'), name);
    if (name === '' || name.includes('=') || name.includes('\0')) {
      const text = `${key} is not a valid variable name: use letters, digits and _, as in GREETING`;
      throw table.error(text, { key });
    }
    if (value.includes('\0')) throw table.error(`${key} contains a NUL character: remove it`, { key });
  }
  // fromEntries defines every name as its own property, `__proto__` included.
  return Object.fromEntries(entries);
}

function readLimits(table: TableReader): ManifestLimits {
  const limits = table.table('limits', { known: MANIFEST_LIMIT_KEYS });
  if (limits === undefined) return {};
  const values: Partial<Record<ManifestLimitKey, number>> = {};
  for (const key of MANIFEST_LIMIT_KEYS) {
    const value = limits.integer(key, `${key} = 1000`);
    if (value !== undefined) values[key] = value;
  }
  return values;
}

function readInstanceReuse(table: TableReader): number | undefined {
  const reuse = table.integer('instance_reuse', 'instance_reuse = 100');
  if (reuse !== undefined && (reuse < 1 || reuse > MAX_INSTANCE_REUSE)) {
    throw table.invalid(
      'instance_reuse',
      `= ${reuse} is out of range: use a whole number from 1 to ${MAX_INSTANCE_REUSE}, or leave it out for a fresh instance per request`,
    );
  }
  return reuse;
}

function readBuild(table: TableReader): BuildSettings | undefined {
  const build = table.table('build', { known: ['command', 'workdir', 'watch'] });
  if (build === undefined) return undefined;
  const example = 'command = "make" (or a list of commands)';
  const command = build.raw('command');
  if (command === undefined) throw build.invalid('command', `is missing: add ${example}`);
  const commands = typeof command === 'string' ? [command] : build.stringArray('command', example);
  if (commands.length === 0 || commands.some((line) => line.trim() === '')) {
    throw build.invalid('command', `is empty: write ${example}`);
  }
  const settings: BuildSettings = { commands, watch: build.stringArray('watch', 'watch = ["src/**/*.c"]') };
  const workdir = build.string('workdir', 'workdir = "path/to/dir"');
  if (workdir !== undefined) settings.workdir = workdir;
  return settings;
}

/** `allowed_outbound_hosts`, each entry parsed as the client will check it. */
function readOutboundHosts(table: TableReader): string[] {
  const key = table.key('allowed_outbound_hosts');
  const hosts = table.stringArray(
    'allowed_outbound_hosts',
    'allowed_outbound_hosts = ["https://example.com"]',
  );
  hosts.forEach((host, index) => {
    if (host.includes('{{')) {
      throw table.error(
        `${key}[${index}] "${host}" uses a variable: isola does not expand variables in allowed_outbound_hosts; write the host itself, e.g. "https://api.example.com"`,
        { key: `${key}[${index}]` },
      );
    }
  });
  try {
    AllowList.parse(hosts, key);
  } catch (error) {
    if (isIsolaError(error)) throw table.error(error.message, { key });
    throw error;
  }
  return hosts;
}

/** `key_value_stores`: store labels, each once. */
function readKeyValueStores(table: TableReader): string[] {
  const key = table.key('key_value_stores');
  const stores = table.stringArray('key_value_stores', 'key_value_stores = ["default"]');
  stores.forEach((label, index) => {
    if (!STORE_LABEL.test(label) || label.length > 128) {
      throw table.error(
        `${key}[${index}] "${label}" is not a store label: use kebab-case or snake_case, as in "default"`,
        { key: `${key}[${index}]` },
      );
    }
    if (stores.indexOf(label) !== index) {
      throw table.error(`${key} lists "${label}" twice: list each store once`, { key: `${key}[${index}]` });
    }
  });
  return stores;
}

/** `variables = { key = "template" }`; the templates are checked against `[variables]` by the caller. */
function readComponentVariables(table: TableReader): Record<string, string> {
  const variables: Record<string, string> = {};
  for (const [name, template] of table.stringTable(
    'variables',
    'variables = { api_url = "{{ api_url }}" }',
  )) {
    if (!LOWER_SNAKE_CASE.test(name)) {
      const key = keyPath(table.key('variables'), name);
      throw table.error(`${key}: variable names are lower snake_case: rename it, as in api_url`, { key });
    }
    variables[name] = template;
  }
  return variables;
}
