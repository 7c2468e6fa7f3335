/**
 * A component's world as its binary states it: the names of its top-level imports and exports
 * (component-model `Binary.md`: import section id 10, export section id 11), read without
 * transpiling, so that deploy can refuse a component before paying for jco. Then the check of
 * that world against what isola provides: every imported interface must be one isola implements
 * (at WASI 0.2.x), and `wasi:http/incoming-handler@0.2.x` must be exported.
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

/** The interfaces isola's host implements, by `namespace:package/interface` (any 0.2.x version). */
export const PROVIDED_INTERFACES: ReadonlySet<string> = new Set([
  'wasi:cli/environment',
  'wasi:cli/exit',
  'wasi:cli/stderr',
  'wasi:cli/stdin',
  'wasi:cli/stdout',
  'wasi:cli/terminal-input',
  'wasi:cli/terminal-output',
  'wasi:cli/terminal-stderr',
  'wasi:cli/terminal-stdin',
  'wasi:cli/terminal-stdout',
  'wasi:clocks/monotonic-clock',
  'wasi:clocks/wall-clock',
  'wasi:filesystem/preopens',
  'wasi:filesystem/types',
  'wasi:http/outgoing-handler',
  'wasi:http/types',
  'wasi:io/error',
  'wasi:io/poll',
  'wasi:io/streams',
  'wasi:random/insecure',
  'wasi:random/insecure-seed',
  'wasi:random/random',
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

/**
 * Refuses a component isola cannot run as an HTTP handler: one that imports an interface isola
 * does not provide (every such import is named), or one that does not export
 * `wasi:http/incoming-handler@0.2.x`. Returns the handler export's full name.
 */
export function checkComponentWorld(world: ComponentWorld): string {
  const unsupported = world.imports.filter((name) => {
    const { interface: iface, version } = splitVersion(name);
    return !PROVIDED_INTERFACES.has(iface) || !isWasi02(version);
  });
  if (unsupported.length > 0) {
    throw new IsolaError(
      'E_MODULE_UNSUPPORTED_IMPORTS',
      `component imports ${unsupported.length === 1 ? 'an interface' : 'interfaces'} isola does not provide: ` +
        `${unsupported.join(', ')}. isola provides ${[...PROVIDED_INTERFACES].join(', ')} at WASI 0.2.x: ` +
        'rebuild the component without the others (or grant them once isola supports them)',
      { unsupported, provided: [...PROVIDED_INTERFACES] },
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
