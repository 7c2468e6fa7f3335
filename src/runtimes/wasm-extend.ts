/**
 * Adds functions to an existing module: new types, bodies and exports are appended to their
 * sections, so every existing index (types, functions, globals) stays where it was and no code
 * has to be renumbered. A new function may be a copy of an existing body with some byte ranges
 * replaced, which is how a runtime reuses a toolchain's inlined start-up code up to a point of its
 * choosing. Custom sections can be dropped on the way (debug information describes the code as
 * it was, and is the larger half of some interpreters).
 */
import { IsolaError } from '../errors.js';
import {
  ByteReader,
  HEADER_BYTES,
  ImportKind,
  readImportSection,
  readSections,
  type Section,
  SectionId,
  sectionName,
} from '../wasm/binary-reader.js';
import {
  applyPatches,
  encodeName,
  encodeSection,
  encodeUnsigned,
  type Patch,
} from '../wasm/binary-writer.js';
import { readHeader } from '../wasm/module-info.js';
import { readTypeSection } from '../wasm/type-section.js';
import { type FunctionBody, readFunctionBodies } from './wasm-code.js';
import type { ValType } from './wasm-emit.js';

/** A function type in value-type codes. */
export interface Signature {
  params: readonly ValType[];
  results: readonly ValType[];
}

/** Export kind of a function (binary/modules.html#export-section). */
const EXPORT_FUNC = 0x00;
const FUNC_TYPE_FORM = 0x60;

/** The sections an extension rewrites; the module must have each of them. */
const REWRITTEN = [SectionId.TYPE, SectionId.FUNCTION, SectionId.EXPORT, SectionId.CODE] as const;

export class ModuleExtension {
  readonly #bytes: Uint8Array;
  readonly #sections: Section[];
  readonly #bodies: FunctionBody[];
  readonly #importedFunctions: ReadonlyMap<string, number>;
  readonly #importedCount: number;
  readonly #typeCount: number;
  readonly #types: number[][] = [];
  readonly #functions: { type: number; body: number[] }[] = [];
  readonly #exports: { name: string; func: number }[] = [];

  constructor(bytes: Uint8Array) {
    readHeader(bytes, { require: 'module' });
    this.#bytes = bytes;
    this.#sections = readSections(bytes);
    for (const id of REWRITTEN) this.#section(id);
    this.#bodies = readFunctionBodies(bytes, this.#section(SectionId.CODE));
    const importSection = this.#sections.find((section) => section.id === SectionId.IMPORT);
    const functionImports = (importSection ? readImportSection(bytes, importSection) : []).filter(
      (entry) => entry.kind === ImportKind.FUNC,
    );
    this.#importedCount = functionImports.length;
    this.#importedFunctions = new Map(
      functionImports.map((entry, index) => [importKey(entry.module, entry.name), index]),
    );
    // New types are numbered from the count of entries, which is the count of types unless the
    // section has the GC proposal's recursion groups.
    this.#typeCount = this.#count(SectionId.TYPE);
    if (readTypeSection(bytes, this.#section(SectionId.TYPE)).length !== this.#typeCount) {
      throw new IsolaError(
        'E_MODULE_UNSUPPORTED',
        'the module declares recursive type groups (the GC proposal), which this rewrite does not extend',
        {},
      );
    }
  }

  /** The function index of an imported function, by `module.name`; undefined when not imported. */
  importedFunction(module: string, name: string): number | undefined {
    return this.#importedFunctions.get(importKey(module, name));
  }

  /** The function index of an export, if it is a function. */
  exportedFunction(name: string): number | undefined {
    const reader = this.#reader(SectionId.EXPORT);
    const count = reader.unsigned();
    for (let i = 0; i < count; i++) {
      const exportName = reader.name();
      const kind = reader.byte();
      const index = reader.unsigned();
      if (exportName === name && kind === EXPORT_FUNC) return index;
    }
    return undefined;
  }

  /** The body of a defined (not imported) function, by function index. */
  body(func: number): FunctionBody {
    const body = this.#bodies[func - this.#importedCount];
    if (body === undefined) {
      throw new IsolaError(
        'E_MODULE_UNSUPPORTED',
        `function ${func} is not one the module defines (it imports ${this.#importedCount} and defines ${this.#bodies.length})`,
        { func },
      );
    }
    return body;
  }

  /** The index the next added function will have. */
  get nextFunction(): number {
    return this.#importedCount + this.#bodies.length + this.#functions.length;
  }

  /** Adds a function with the given signature and encoded body (locals and code); returns its index. */
  addFunction(signature: Signature, body: readonly number[], exportName?: string): number {
    this.#types.push([
      FUNC_TYPE_FORM,
      ...encodeUnsigned(signature.params.length),
      ...signature.params,
      ...encodeUnsigned(signature.results.length),
      ...signature.results,
    ]);
    const func = this.nextFunction;
    this.#functions.push({ type: this.#typeCount + this.#types.length - 1, body: [...body] });
    if (exportName !== undefined) this.#exports.push({ name: exportName, func });
    return func;
  }

  /**
   * Adds a copy of a defined function with byte ranges of its body (absolute offsets in the
   * module, as `findCalls` reports them) replaced. The copy has the original's type.
   */
  addPatchedCopy(func: number, patches: readonly Patch[], exportName?: string): number {
    const body = this.body(func);
    const local = patches.map((patch) => ({
      ...patch,
      start: patch.start - body.start,
      end: patch.end - body.start,
    }));
    const patched = applyPatches(this.#bytes.subarray(body.start, body.end), local);
    const copy = this.nextFunction;
    this.#functions.push({ type: this.typeOf(func), body: [...patched] });
    if (exportName !== undefined) this.#exports.push({ name: exportName, func: copy });
    return copy;
  }

  /** The type index of a defined function. */
  typeOf(func: number): number {
    this.body(func);
    const reader = this.#reader(SectionId.FUNCTION);
    reader.unsigned();
    for (let i = this.#importedCount; i < func; i++) reader.unsigned();
    return reader.unsigned();
  }

  /** The module with the additions, without the custom sections `dropCustom` picks. */
  encode(dropCustom: (name: string) => boolean = () => false): Uint8Array<ArrayBuffer> {
    const parts: Uint8Array[] = [this.#bytes.subarray(0, HEADER_BYTES)];
    for (const section of this.#sections) {
      switch (section.id) {
        case SectionId.TYPE:
          parts.push(this.#appended(section, this.#types));
          break;
        case SectionId.FUNCTION:
          parts.push(
            this.#appended(
              section,
              this.#functions.map((entry) => encodeUnsigned(entry.type)),
            ),
          );
          break;
        case SectionId.EXPORT:
          parts.push(
            this.#appended(
              section,
              this.#exports.map((entry) => [
                ...encodeName(entry.name),
                EXPORT_FUNC,
                ...encodeUnsigned(entry.func),
              ]),
            ),
          );
          break;
        case SectionId.CODE:
          parts.push(
            this.#appended(
              section,
              this.#functions.map((entry) => [...encodeUnsigned(entry.body.length), ...entry.body]),
            ),
          );
          break;
        case SectionId.CUSTOM:
          if (!dropCustom(new ByteReader(this.#bytes, section.contentStart, section.end).name())) {
            parts.push(this.#bytes.subarray(section.start, section.end));
          }
          break;
        default:
          parts.push(this.#bytes.subarray(section.start, section.end));
      }
    }
    const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
    let offset = 0;
    for (const part of parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }

  /** A vector section with entries appended: the count is re-encoded, the old entries copied. */
  #appended(section: Section, entries: readonly (readonly number[])[]): Uint8Array {
    const reader = new ByteReader(this.#bytes, section.contentStart, section.end);
    const count = reader.unsigned();
    const old = this.#bytes.subarray(reader.offset, section.end);
    const head = encodeUnsigned(count + entries.length);
    const added = entries.flat();
    const content = new Uint8Array(head.length + old.length + added.length);
    content.set(head);
    content.set(old, head.length);
    content.set(added, head.length + old.length);
    return encodeSection(section.id, content);
  }

  #count(id: number): number {
    return this.#reader(id).unsigned();
  }

  #reader(id: number): ByteReader {
    const section = this.#section(id);
    return new ByteReader(this.#bytes, section.contentStart, section.end);
  }

  #section(id: number): Section {
    const section = this.#sections.find((candidate) => candidate.id === id);
    if (section === undefined) {
      throw new IsolaError(
        'E_MODULE_UNSUPPORTED',
        `the module has no ${sectionName(id)} section, which this rewrite extends`,
        { section: id },
      );
    }
    return section;
  }
}

function importKey(module: string, name: string): string {
  return `${module}\0${name}`;
}
