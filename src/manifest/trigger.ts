/**
 * `[[trigger.http]]`: which component answers which route, and how it is called. isola serves
 * HTTP triggers only; Spin's other trigger types are refused by name.
 */
import type { HttpTrigger, WagiExecutorSettings } from './manifest.js';
import { parseRoute } from './route.js';
import { closest } from './suggest.js';
import { describeType, isTable, type KeySpec, TableReader } from './table-reader.js';

const HTTP_TRIGGER_KEYS: KeySpec = {
  known: ['route', 'component', 'executor'],
  unsupported: {
    id: 'isola does not name triggers; remove it',
    components: 'write one component = "NAME" instead',
  },
};

const EXAMPLE = '[[trigger.http]] with route = "/..." and component = "NAME"';

/** Reads `[[trigger.http]]`, in the manifest's order; refuses every other trigger type. */
export function readHttpTriggers(root: TableReader): HttpTrigger[] {
  const triggers = root.raw('trigger');
  if (triggers === undefined) {
    throw root.error(`the manifest has no trigger: add ${EXAMPLE}`, { key: 'trigger' });
  }
  if (!isTable(triggers)) throw root.wrongType('trigger', 'a table', EXAMPLE);
  for (const type of Object.keys(triggers)) refuseTriggerType(root, type);
  const http = triggers.http;
  if (http === undefined || (Array.isArray(http) && http.length === 0)) {
    throw root.error(`the manifest has no HTTP trigger: add ${EXAMPLE}`, { key: 'trigger.http' });
  }
  if (!Array.isArray(http)) {
    throw root.error('trigger.http must be a list of tables: write [[trigger.http]], with double brackets', {
      key: 'trigger.http',
    });
  }
  return http.map((entry, index) => {
    const key = `trigger.http[${index}]`;
    if (!isTable(entry)) {
      throw root.error(`${key} must be a table, not ${describeType(entry)}: write ${EXAMPLE}`);
    }
    return readHttpTrigger(new TableReader(root.file, key, entry, HTTP_TRIGGER_KEYS));
  });
}

function refuseTriggerType(root: TableReader, type: string): void {
  if (type === 'http') return;
  const key = `trigger.${type}`;
  if (closest(type, ['http']) !== undefined) {
    throw root.error(`unknown trigger type ${key}: did you mean trigger.http?`, {
      key,
      suggestion: 'trigger.http',
    });
  }
  throw root.error(
    `${key} is not supported: isola serves HTTP triggers only; remove [[${key}]] or serve the component over [[trigger.http]]`,
    { key },
    'E_MANIFEST_UNSUPPORTED',
  );
}

function readHttpTrigger(table: TableReader): HttpTrigger {
  const trigger: HttpTrigger = {
    key: table.path,
    route: readRoute(table),
    component: readComponentRef(table),
  };
  const executor = readExecutor(table);
  if (executor !== undefined) trigger.executor = executor;
  return trigger;
}

function readRoute(table: TableReader): string {
  if (isTable(table.raw('route'))) {
    throw table.error(
      `${table.key('route')} as a table (a private endpoint) is not supported yet: give it a path, as in route = "/internal/..."`,
      { key: table.key('route') },
      'E_MANIFEST_UNSUPPORTED',
    );
  }
  const route = table.requiredString('route', 'route = "/..."');
  const check = parseRoute(route);
  if (!check.ok) throw table.invalid('route', `"${route}" ${check.problem}: ${check.fix}`);
  return route;
}

function readComponentRef(table: TableReader): string {
  if (isTable(table.raw('component'))) {
    throw table.error(
      `${table.key('component')} as an inline table is not supported yet: move it to [component.NAME] and write component = "NAME"`,
      { key: table.key('component') },
      'E_MANIFEST_UNSUPPORTED',
    );
  }
  return table.requiredString('component', 'component = "NAME"');
}

function readExecutor(table: TableReader): WagiExecutorSettings | undefined {
  const executor = table.table(
    'executor',
    { known: ['type', 'argv', 'entrypoint'] },
    'executor = { type = "wagi" }',
  );
  if (executor === undefined) return undefined;
  const type = executor.requiredString('type', 'type = "wagi"');
  if (type === 'spin') {
    throw executor.error(
      `${executor.key('type')} = "spin" (Spin's component interface) is not supported yet: ` +
        'leave executor out to serve a WASI command CGI-style, or write executor = { type = "wagi" }',
      { key: executor.key('type') },
      'E_MANIFEST_UNSUPPORTED',
    );
  }
  if (type !== 'wagi') throw executor.invalid('type', `"${type}" is not an executor: write type = "wagi"`);
  const settings: WagiExecutorSettings = { type };
  // biome-ignore lint/suspicious/noTemplateCurlyInString: WAGI's own placeholders, replaced per request.
  const argv = executor.string('argv', 'argv = "${SCRIPT_NAME} ${ARGS}"');
  if (argv !== undefined) settings.argv = argv;
  const entrypoint = executor.string('entrypoint', 'entrypoint = "_start"');
  if (entrypoint === '') {
    throw executor.invalid('entrypoint', 'is empty: name an exported function, or leave it out for _start');
  }
  if (entrypoint !== undefined) settings.entrypoint = entrypoint;
  return settings;
}
