/**
 * A component's world as its binary states it: the names of its top-level imports and exports
 * (component-model `Binary.md`: import section id 10, export section id 11), read without
 * transpiling, so that deploy can refuse a component before paying for jco. Then the check of
 * that world against what isola provides: every imported interface must be one isola implements,
 * at a version it serves (WASI 0.2.x; the drafts of isola's own WIT in `wit/` exactly), and
 * `wasi:http/incoming-handler@0.2.x` must be exported.
 */
import { IsolaError } from '../errors.js';
import { ByteReader, readSections } from '../wasm/binary-reader.js';
import { readHeader } from '../wasm/module-info.js';

const COMPONENT_IMPORT_SECTION = 10;
const COMPONENT_EXPORT_SECTION = 11;

/** Names as the component spells them, versions included (`wasi:http/types@0.2.10`). */
export interface ComponentWorld {
  imports: string[];
  exports: string[];
}

/** Any WASI 0.2.x release: 0.2 patch releases share their declarations. */
const WASI_02 = '0.2.x';

/**
 * The interfaces isola's host implements, by `namespace:package/interface`, with the version each
 * is served at: `0.2.x` for WASI 0.2 (any patch release), or one exact draft version for the
 * proposals whose WIT isola ships itself (`wit/`), since drafts change their signatures freely.
 */
export const PROVIDED_INTERFACES: ReadonlyMap<string, string> = new Map([
  ['wasi:cli/environment', WASI_02],
  ['wasi:cli/exit', WASI_02],
  ['wasi:cli/stderr', WASI_02],
  ['wasi:cli/stdin', WASI_02],
  ['wasi:cli/stdout', WASI_02],
  ['wasi:cli/terminal-input', WASI_02],
  ['wasi:cli/terminal-output', WASI_02],
  ['wasi:cli/terminal-stderr', WASI_02],
  ['wasi:cli/terminal-stdin', WASI_02],
  ['wasi:cli/terminal-stdout', WASI_02],
  ['wasi:clocks/monotonic-clock', WASI_02],
  ['wasi:clocks/wall-clock', WASI_02],
  ['wasi:config/store', '0.2.0-draft'],
  ['wasi:filesystem/preopens', WASI_02],
  ['wasi:filesystem/types', WASI_02],
  ['wasi:http/outgoing-handler', WASI_02],
  ['wasi:http/types', WASI_02],
  ['wasi:io/error', WASI_02],
  ['wasi:io/poll', WASI_02],
  ['wasi:io/streams', WASI_02],
  ['wasi:keyvalue/atomics', '0.2.0-draft2'],
  ['wasi:keyvalue/batch', '0.2.0-draft2'],
  ['wasi:keyvalue/store', '0.2.0-draft2'],
  ['wasi:random/insecure', WASI_02],
  ['wasi:random/insecure-seed', WASI_02],
  ['wasi:random/random', WASI_02],
]);

/** The export an HTTP component must have, at any 0.2.x version. */
export const INCOMING_HANDLER = 'wasi:http/incoming-handler';

/** The top-level import and export names of a component binary. */
export function readComponentWorld(bytes: Uint8Array): ComponentWorld {
  const header = readHeader(bytes);
  if (header.layer !== 'component') {
    throw new IsolaError(
      'E_MODULE_INVALID',
      'the file is a core WebAssembly module, not a component: a wasi:http app must be a component ' +
        'exporting wasi:http/incoming-handler (build it with cargo component, componentize-js or ' +
        'wasm-tools component new)',
      { layer: header.layer },
    );
  }
  const world: ComponentWorld = { imports: [], exports: [] };
  for (const section of readSections(bytes)) {
    if (section.id !== COMPONENT_IMPORT_SECTION && section.id !== COMPONENT_EXPORT_SECTION) continue;
    const reader = new ByteReader(bytes, section.contentStart, section.end);
    const count = reader.unsigned();
    for (let i = 0; i < count; i++) {
      if (section.id === COMPONENT_IMPORT_SECTION) {
        world.imports.push(readExternName(reader));
        skipExternDesc(reader);
      } else {
        world.exports.push(readExternName(reader));
        skipSortIndex(reader);
        if (reader.byte() === 0x01) skipExternDesc(reader);
      }
    }
  }
  return world;
}

/** `importname'`/`exportname'`: 0x00 name, or 0x01 name followed by a version suffix (older encoders). */
function readExternName(reader: ByteReader): string {
  const form = reader.byte();
  const name = reader.name();
  if (form === 0x01) reader.name();
  else if (form !== 0x00) throw malformed(reader, `an import or export name of form 0x${form.toString(16)}`);
  return name;
}

/** `externdesc`: a sort byte and an index, except value (0x02) and type (0x03) bounds. */
function skipExternDesc(reader: ByteReader): void {
  const sort = reader.byte();
  switch (sort) {
    case 0x00: // core module: 0x11 typeidx
      reader.byte();
      reader.unsigned();
      return;
    case 0x01: // func
    case 0x04: // component
    case 0x05: // instance
      reader.unsigned();
      return;
    case 0x02: // value bound: 0x00 valueidx | 0x01 valtype
    case 0x03: // type bound: 0x00 eq typeidx | 0x01 sub resource
      if (reader.byte() === 0x00 || sort === 0x02) reader.skipSigned();
      return;
    default:
      throw malformed(reader, `an extern descriptor of sort 0x${sort.toString(16)}`);
  }
}

/** `sortidx`: a sort (0x00 followed by a core sort) and an index. */
function skipSortIndex(reader: ByteReader): void {
  if (reader.byte() === 0x00) reader.byte();
  reader.unsigned();
}

function malformed(reader: ByteReader, what: string): IsolaError {
  return new IsolaError('E_MODULE_INVALID', `component is malformed: ${what} at byte ${reader.offset}`, {
    offset: reader.offset,
  });
}

/** `wasi:http/types@0.2.10` → `{ interface: 'wasi:http/types', version: '0.2.10' }`. */
export function splitVersion(name: string): { interface: string; version: string | undefined } {
  const at = name.indexOf('@');
  return at < 0
    ? { interface: name, version: undefined }
    : { interface: name.slice(0, at), version: name.slice(at + 1) };
}

function isWasi02(version: string | undefined): boolean {
  return version !== undefined && /^0\.2\.\d+$/.test(version);
}

/** Whether isola serves `name` (`wasi:keyvalue/store@0.2.0-draft2`) at the version it names. */
function isProvided(name: string): boolean {
  const { interface: iface, version } = splitVersion(name);
  const served = PROVIDED_INTERFACES.get(iface);
  return served === WASI_02 ? isWasi02(version) : served !== undefined && version === served;
}

/** What isola provides, grouped by version: "a, b at WASI 0.2.x; c at 0.2.0-draft; and d at 0.2.0-draft2". */
function describeProvided(): string {
  const byVersion = new Map<string, string[]>();
  for (const [iface, version] of PROVIDED_INTERFACES) {
    byVersion.set(version, [...(byVersion.get(version) ?? []), iface]);
  }
  const groups = [...byVersion].map(
    ([version, names]) => `${names.join(', ')} at ${version === WASI_02 ? 'WASI 0.2.x' : version}`,
  );
  return groups.length > 1 ? `${groups.slice(0, -1).join('; ')}; and ${groups.at(-1)}` : (groups[0] ?? '');
}

/**
 * Refuses a component isola cannot run as an HTTP handler: one that imports an interface isola
 * does not provide, or provides at another version (every such import is named), or one that
 * does not export `wasi:http/incoming-handler@0.2.x`. Returns the handler export's full name.
 */
export function checkComponentWorld(world: ComponentWorld): string {
  const unsupported = world.imports.filter((name) => !isProvided(name));
  if (unsupported.length > 0) {
    throw new IsolaError(
      'E_MODULE_UNSUPPORTED_IMPORTS',
      `component imports ${unsupported.length === 1 ? 'an interface' : 'interfaces'} isola does not provide: ` +
        `${unsupported.join(', ')}. isola provides ${describeProvided()}: ` +
        'rebuild the component against these versions, without the others',
      {
        unsupported,
        provided: [...PROVIDED_INTERFACES].map(([iface, version]) => `${iface}@${version}`),
      },
    );
  }
  const handler = world.exports.find((name) => {
    const { interface: iface, version } = splitVersion(name);
    return iface === INCOMING_HANDLER && isWasi02(version);
  });
  if (handler === undefined) {
    const exported = world.exports.length > 0 ? world.exports.join(', ') : 'nothing';
    throw new IsolaError(
      'E_MODULE_COMPONENT',
      `component exports no ${INCOMING_HANDLER}@0.2.x (it exports ${exported}): an HTTP component must ` +
        `export ${INCOMING_HANDLER}, e.g. the wasi:http/proxy world`,
      { exports: world.exports },
    );
  }
  return handler;
}
