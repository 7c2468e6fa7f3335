/**
 * Manifest text → a checked Manifest. The format is told by its version key:
 * `manifest_version = 1` for isola.toml, `spin_manifest_version = 2` for Spin's spin.toml (the
 * subset isola supports; everything else is refused by name). Checks that need no disk happen
 * here: key names and types, routes, component names and references, duplicate routes.
 */
import { basename } from 'node:path';
import { readComponents } from './component.js';
import type {
  ApplicationInfo,
  ComponentManifest,
  HttpTrigger,
  Manifest,
  ManifestFormat,
  VariableDeclaration,
} from './manifest.js';
import { manifestError } from './manifest-error.js';
import { parseRoute, routeShape } from './route.js';
import { closest } from './suggest.js';
import { isTable, type KeySpec, type Table, TableReader } from './table-reader.js';
import { parseToml } from './toml.js';
import { readHttpTriggers } from './trigger.js';
import { parseTemplate, templateReferences, VARIABLE_NAME } from './variable-template.js';

const VERSION_KEYS: Readonly<Record<ManifestFormat, string>> = {
  isola: 'manifest_version',
  spin: 'spin_manifest_version',
};
const VERSIONS: Readonly<Record<ManifestFormat, number>> = { isola: 1, spin: 2 };

const APPLICATION_KEYS: KeySpec = {
  known: ['name', 'version', 'description', 'authors', 'tool'],
  unsupported: {
    trigger: 'isola has no application-wide trigger settings; remove it',
    targets: 'isola checks no deployment targets; remove it',
  },
};

const VARIABLE_KEYS: KeySpec = { known: ['description', 'default', 'required', 'secret'] };

/**
 * Parses and checks a manifest. `file` names it in every message (`isola.toml: ...`); paths in
 * the result stay relative to the manifest's directory.
 */
export function parseManifest(text: string, file = 'isola.toml'): Manifest {
  const document = parseToml(text, file);
  const format = detectFormat(document, file);
  // The version first: a manifest of another version has other keys, and they are not the problem.
  checkVersion(new TableReader(file, '', document, { known: 'user' }), format);
  const root = new TableReader(file, '', document, {
    known: [VERSION_KEYS[format], 'application', 'variables', 'trigger', 'component'],
  });
  const application = readApplication(root);
  const variables = readVariables(root);
  const components = readComponents(root);
  checkVariableReferences(root, variables, components);
  const httpTriggers = readHttpTriggers(root);
  checkReferences(root, httpTriggers, components);
  checkDuplicateRoutes(root, httpTriggers);
  return { format, application, variables, httpTriggers, components };
}

function detectFormat(document: Table, file: string): ManifestFormat {
  const isola = Object.hasOwn(document, VERSION_KEYS.isola);
  const spin = Object.hasOwn(document, VERSION_KEYS.spin);
  if (isola && spin) {
    throw manifestError(file, 'both manifest_version and spin_manifest_version are set: keep only one', {
      key: 'manifest_version',
    });
  }
  if (isola || spin) return spin ? 'spin' : 'isola';
  const fix = basename(file) === 'spin.toml' ? 'spin_manifest_version = 2' : 'manifest_version = 1';
  throw manifestError(file, `the manifest has no version: add ${fix} at the top`, { key: fix.split(' ')[0] });
}

function checkVersion(root: TableReader, format: ManifestFormat): void {
  const key = VERSION_KEYS[format];
  const expected = VERSIONS[format];
  const raw = root.raw(key);
  if (format === 'spin' && (raw === 1 || raw === '1')) {
    throw root.error(
      'Spin manifest version 1 is not supported: rewrite it in the version 2 format (spin_manifest_version = 2)',
      { key },
      'E_MANIFEST_UNSUPPORTED',
    );
  }
  const version = root.integer(key, `${key} = ${expected}`);
  if (version !== expected) {
    throw root.invalid(key, `= ${version} is not a version isola reads: write ${key} = ${expected}`);
  }
}

function readApplication(root: TableReader): ApplicationInfo {
  const table = root.table('application', APPLICATION_KEYS, '[application] with name = "my-app"');
  if (table === undefined) {
    throw root.error('[application] is missing: add [application] with name = "my-app"', {
      key: 'application',
    });
  }
  const name = table.requiredString('name', 'name = "my-app"');
  if (!/^[A-Za-z0-9_-]+$/.test(name)) {
    throw table.invalid(
      'name',
      `"${name}" is not a valid name: use letters, digits, - and _, as in "my-app"`,
    );
  }
  const application: ApplicationInfo = {
    name,
    authors: table.stringArray('authors', 'authors = ["Ada <ada@example.com>"]'),
  };
  const version = table.string('version', 'version = "1.0.0"');
  if (version !== undefined) application.version = version;
  const description = table.string('description');
  if (description !== undefined) application.description = description;
  table.opaqueTable('tool');
  return application;
}

/** `[variables]`: each a default or required, maybe secret; values are resolved at deploy. */
function readVariables(root: TableReader): Record<string, VariableDeclaration> {
  const declared: Record<string, VariableDeclaration> = {};
  const variables = root.table('variables', { known: 'user' }, '[variables]');
  if (variables === undefined) return declared;
  for (const [name, value] of variables.entries()) {
    const key = variables.key(name);
    if (!VARIABLE_NAME.test(name)) {
      throw root.error(`${key}: variable names are lower snake_case: rename it, as in api_url`, { key });
    }
    if (!isTable(value)) throw variables.wrongType(name, 'a table', `${name} = { default = "value" }`);
    const variable = new TableReader(root.file, key, value, VARIABLE_KEYS);
    const description = variable.string('description');
    const secret = variable.boolean('secret') ?? false;
    const fallback = variable.string('default');
    const required = variable.boolean('required') ?? false;
    if (required === (fallback !== undefined)) {
      throw root.error(`${key} needs either default = "..." or required = true, not both or neither`, {
        key,
      });
    }
    declared[name] = {
      required,
      secret,
      ...(fallback === undefined ? {} : { default: fallback }),
      ...(description === undefined ? {} : { description }),
    };
  }
  return declared;
}

/** Every component variable's template refers only to declared `[variables]`. */
function checkVariableReferences(
  root: TableReader,
  variables: Readonly<Record<string, VariableDeclaration>>,
  components: readonly ComponentManifest[],
): void {
  for (const component of components) {
    for (const [name, template] of Object.entries(component.variables)) {
      const key = `component.${component.name}.variables.${name}`;
      const parsed = parseTemplate(template);
      if ('problem' in parsed) throw root.error(`${key} ${parsed.problem}`, { key });
      for (const reference of templateReferences(parsed.parts)) {
        if (variables[reference] === undefined) {
          const near = closest(reference, Object.keys(variables));
          throw root.error(
            `${key} refers to {{ ${reference} }}, which [variables] does not declare: ${
              near === undefined ? '' : `did you mean {{ ${near} }}? Or `
            }add ${reference} = { default = "..." } (or required = true) under [variables]`,
            { key, variable: reference },
          );
        }
      }
    }
  }
}

function checkReferences(
  root: TableReader,
  triggers: readonly HttpTrigger[],
  components: readonly ComponentManifest[],
): void {
  const names = components.map((component) => component.name);
  for (const trigger of triggers) {
    if (names.includes(trigger.component)) continue;
    const suggestion = closest(trigger.component, names);
    const fix =
      suggestion !== undefined
        ? `did you mean "${suggestion}"?`
        : `add [component.${trigger.component}]${names.length > 0 ? ` or use one of ${names.join(', ')}` : ''}`;
    throw root.error(`${trigger.key}.component = "${trigger.component}" names no component: ${fix}`, {
      key: `${trigger.key}.component`,
    });
  }
  // Every component must serve a route: one that none does would be locked and loaded for nothing,
  // and is most likely a trigger the author forgot (or a misspelt reference).
  for (const name of names) {
    if (triggers.some((trigger) => trigger.component === name)) continue;
    throw root.error(
      `component.${name} is not used by any trigger: add [[trigger.http]] with component = "${name}", or remove [component.${name}]`,
      { key: `component.${name}` },
    );
  }
}

function checkDuplicateRoutes(root: TableReader, triggers: readonly HttpTrigger[]): void {
  const seen = new Map<string, HttpTrigger>();
  for (const trigger of triggers) {
    const check = parseRoute(trigger.route);
    if (!check.ok) continue;
    const shape = routeShape(check.segments);
    const first = seen.get(shape);
    if (first === undefined) {
      seen.set(shape, trigger);
      continue;
    }
    throw root.error(
      `${trigger.key}.route "${trigger.route}" matches the same requests as ${first.key}.route "${first.route}": ` +
        'give each trigger its own route',
      { key: `${trigger.key}.route` },
    );
  }
}
