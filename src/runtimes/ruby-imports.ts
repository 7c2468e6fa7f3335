/**
 * Turning function imports into functions the module defines, so that a module built for a host
 * that provides more than WASI (ruby.wasm imports its JavaScript interop, `rb-js-abi-host`, and
 * wit-bindgen's resource table, `canonical_abi`) links against WASI alone, as the engine and
 * wizer require. The replaced imports become defined functions appended after the module's own;
 * function imports can also be added (after the kept ones).
 *
 * Imports come first in the function index space (binary/modules.html#indices), so dropping or
 * adding one moves every defined function: each place that names a function by index is
 * rewritten, namely `call`, `return_call` and `ref.func` in code and in constant expressions
 * (globals, element segments), element segments' function lists, exports and the start function.
 * The `name` section is dropped (it names functions by their old indices); instructions are
 * walked with the decoder in src/wasm/instructions.ts, which refuses any opcode it does not know.
 */
import { IsolaError } from '../errors.js';
import {
  ByteReader,
  HEADER_BYTES,
  type ImportEntry,
  ImportKind,
  readImportSection,
  readSections,
  type Section,
  SectionId,
  sectionName,
  skipValueType,
} from '../wasm/binary-reader.js';
import {
  applyPatches,
  encodeName,
  encodeSection,
  encodeUnsigned,
  type Patch,
} from '../wasm/binary-writer.js';
import { readFunctionBodies, readInstruction } from '../wasm/instructions.js';
import { readHeader } from '../wasm/module-info.js';
import { type FuncType, readTypeSection } from '../wasm/type-section.js';
import type { Signature } from './wasm-extend.js';

/** One function import as a replacement body sees it. */
export interface ReplacedImport {
  module: string;
  name: string;
  type: FuncType;
  /** Its index once it is defined. */
  index: number;
}

export interface ImportRewriteOptions {
  /** Which function imports become defined functions. */
  replace(module: string, name: string): boolean;
  /** Function imports the module must have: added after the kept ones unless it has them already. */
  add?: readonly { module: string; name: string; signature: Signature }[];
}

export interface EncodeOptions {
  /**
   * The body (locals and code, as `encodeBody` makes it) of each replaced import. It is given the
   * rewrite, so that a body can call kept or added imports by their new indices.
   */
  body(entry: ReplacedImport): readonly number[];
  /** Exports to keep, by name. Default: all. */
  keepExport?: (name: string) => boolean;
  /** Custom sections to drop besides `name`. Default: none. */
  dropCustom?: (name: string) => boolean;
}

/** Export and element kind of a function (binary/modules.html#export-section). */
const FUNC_KIND = 0x00;
const FUNC_TYPE_FORM = 0x60;
const Op = Object.freeze({ CALL: 0x10, RETURN_CALL: 0x12, END: 0x0b, REF_FUNC: 0xd2 });

export class ImportRewrite {
  readonly #bytes: Uint8Array;
  readonly #sections: Section[];
  readonly #imports: ImportEntry[];
  readonly #types: (FuncType | undefined)[];
  /** New index of every old function index, imports first. */
  readonly #remap: Int32Array;
  readonly #importedCount: number;
  readonly #replaced: (ReplacedImport & { typeIndex: number })[] = [];
  readonly #replacedImports = new Set<ImportEntry>();
  readonly #kept = new Map<string, number>();
  readonly #added: { module: string; name: string; signature: Signature }[] = [];

  constructor(bytes: Uint8Array, options: ImportRewriteOptions) {
    readHeader(bytes, { require: 'module' });
    this.#bytes = bytes;
    this.#sections = readSections(bytes);
    const importSection = this.#optional(SectionId.IMPORT);
    this.#imports = importSection ? readImportSection(bytes, importSection) : [];
    const typeSection = this.#optional(SectionId.TYPE);
    this.#types = typeSection ? readTypeSection(bytes, typeSection) : [];
    const functionImports = this.#imports.filter((entry) => entry.kind === ImportKind.FUNC);
    this.#importedCount = functionImports.length;
    const codeSection = this.#optional(SectionId.CODE);
    const defined = codeSection
      ? new ByteReader(bytes, codeSection.contentStart, codeSection.end).unsigned()
      : 0;

    // Kept imports first, in their order, then the added ones, then the defined functions, then
    // the replacements. importedFunction names the first import of a name.
    const replace = functionImports.map((entry) => options.replace(entry.module, entry.name));
    this.#remap = new Int32Array(this.#importedCount + defined);
    let position = 0;
    for (const [index, entry] of functionImports.entries()) {
      if (replace[index]) continue;
      if (!this.#kept.has(key(entry.module, entry.name)))
        this.#kept.set(key(entry.module, entry.name), position);
      this.#remap[index] = position++;
    }
    for (const wanted of options.add ?? []) {
      if (this.#kept.has(key(wanted.module, wanted.name))) continue;
      this.#kept.set(key(wanted.module, wanted.name), position++);
      this.#added.push(wanted);
    }
    const firstDefined = position;
    for (let i = 0; i < defined; i++) this.#remap[this.#importedCount + i] = firstDefined + i;
    for (const [index, entry] of functionImports.entries()) {
      if (!replace[index]) continue;
      const typeIndex = new ByteReader(bytes, entry.descriptorStart, entry.end).unsigned();
      const type = this.#types[typeIndex];
      if (type === undefined) {
        throw new IsolaError(
          'E_MODULE_INVALID',
          `import ${entry.module}.${entry.name} has type ${typeIndex}, which is not a function type`,
          { module: entry.module, name: entry.name },
        );
      }
      const newIndex = firstDefined + defined + this.#replaced.length;
      this.#remap[index] = newIndex;
      this.#replacedImports.add(entry);
      this.#replaced.push({ module: entry.module, name: entry.name, type, index: newIndex, typeIndex });
    }
  }

  /** The imports that become defined functions, in import order. */
  get replaced(): readonly ReplacedImport[] {
    return this.#replaced.map(({ module, name, type, index }) => ({ module, name, type, index }));
  }

  /** The new index of the function that had index `old` (imports counted first). */
  functionIndex(old: number): number {
    const index = this.#remap[old];
    if (index === undefined) {
      throw new IsolaError(
        'E_MODULE_INVALID',
        `function ${old} does not exist (the module has ${this.#remap.length})`,
        {
          func: old,
        },
      );
    }
    return index;
  }

  /** The new index of a kept or added function import; undefined when it is neither. */
  importedFunction(module: string, name: string): number | undefined {
    return this.#kept.get(key(module, name));
  }

  /** The rewritten module. */
  encode(options: EncodeOptions): Uint8Array<ArrayBuffer> {
    // Sections are rewritten, never created: a module with imports to replace has them all.
    for (const id of [SectionId.TYPE, SectionId.IMPORT, SectionId.FUNCTION, SectionId.CODE]) {
      if (this.#optional(id) === undefined && (this.#added.length > 0 || this.#replaced.length > 0)) {
        throw unsupported(`the module has no ${sectionName(id)} section`);
      }
    }
    const keepExport = options.keepExport ?? (() => true);
    const dropCustom = options.dropCustom ?? (() => false);
    const typeCount = this.#types.length;
    const parts: Uint8Array[] = [this.#bytes.subarray(0, HEADER_BYTES)];
    for (const section of this.#sections) {
      const content = this.#bytes.subarray(section.contentStart, section.end);
      switch (section.id) {
        case SectionId.TYPE:
          parts.push(
            this.#vector(
              section,
              this.#added.map(({ signature }) => encodeType(signature)),
            ),
          );
          break;
        case SectionId.IMPORT:
          parts.push(this.#importSection(typeCount));
          break;
        case SectionId.FUNCTION:
          parts.push(
            this.#vector(
              section,
              this.#replaced.map((entry) => encodeUnsigned(entry.typeIndex)),
            ),
          );
          break;
        case SectionId.EXPORT:
          parts.push(this.#exportSection(section, keepExport));
          break;
        case SectionId.START: {
          const reader = new ByteReader(this.#bytes, section.contentStart, section.end);
          parts.push(encodeSection(SectionId.START, encodeUnsigned(this.functionIndex(reader.unsigned()))));
          break;
        }
        case SectionId.GLOBAL:
        case SectionId.ELEMENT:
          parts.push(encodeSection(section.id, applyPatches(content, this.#constantPatches(section))));
          break;
        case SectionId.CODE:
          parts.push(this.#codeSection(section, options.body));
          break;
        case SectionId.CUSTOM: {
          const name = new ByteReader(this.#bytes, section.contentStart, section.end).name();
          if (name !== 'name' && !dropCustom(name))
            parts.push(this.#bytes.subarray(section.start, section.end));
          break;
        }
        default:
          parts.push(this.#bytes.subarray(section.start, section.end));
      }
    }
    return concat(parts);
  }

  /** Kept imports in their order (other kinds untouched), then the added ones. */
  #importSection(typeCount: number): Uint8Array {
    const section = this.#optional(SectionId.IMPORT)!;
    const entries: Uint8Array[] = [];
    // Entries lie back to back after the count, so each starts where the one before ended.
    const reader = new ByteReader(this.#bytes, section.contentStart, section.end);
    reader.unsigned();
    let start = reader.offset;
    for (const entry of this.#imports) {
      if (!this.#replacedImports.has(entry)) entries.push(this.#bytes.subarray(start, entry.end));
      start = entry.end;
    }
    for (const [i, added] of this.#added.entries()) {
      entries.push(
        Uint8Array.from([
          ...encodeName(added.module),
          ...encodeName(added.name),
          ImportKind.FUNC,
          ...encodeUnsigned(typeCount + i),
        ]),
      );
    }
    return encodeSection(
      SectionId.IMPORT,
      concat([Uint8Array.from(encodeUnsigned(entries.length)), ...entries]),
    );
  }

  #exportSection(section: Section, keepExport: (name: string) => boolean): Uint8Array {
    const reader = new ByteReader(this.#bytes, section.contentStart, section.end);
    const count = reader.unsigned();
    const entries: number[][] = [];
    for (let i = 0; i < count; i++) {
      const name = reader.name();
      const kind = reader.byte();
      const index = reader.unsigned();
      if (!keepExport(name)) continue;
      entries.push([
        ...encodeName(name),
        kind,
        ...encodeUnsigned(kind === FUNC_KIND ? this.functionIndex(index) : index),
      ]);
    }
    return encodeSection(SectionId.EXPORT, [...encodeUnsigned(entries.length), ...entries.flat()]);
  }

  /**
   * Patches (relative to the section's content) for the function indices in a global or element
   * section: element segments' function lists (flags 0-3) and `ref.func` in every constant
   * expression (binary/modules.html#element-section).
   */
  #constantPatches(section: Section): Patch[] {
    const reader = new ByteReader(this.#bytes, section.contentStart, section.end);
    const patches: Patch[] = [];
    const index = () => this.#indexPatch(reader, section.contentStart, patches);
    const expression = () => this.#expressionPatches(reader, section.contentStart, patches);
    const count = reader.unsigned();
    for (let i = 0; i < count; i++) {
      if (section.id === SectionId.GLOBAL) {
        skipValueType(reader);
        reader.byte();
        expression();
        continue;
      }
      const flags = reader.unsigned();
      if (flags > 7)
        throw unsupported(`element segment ${i} has flags ${flags}, which this rewrite does not know`);
      const hasTable = flags === 2 || flags === 6;
      const passiveOrDeclared = (flags & 1) === 1;
      const usesExpressions = (flags & 4) === 4;
      if (hasTable) reader.unsigned();
      if (!passiveOrDeclared) expression();
      // An element kind (0x00, funcref) or a reference type follows, except in the two forms
      // that leave it implicit: flags 0 and 4.
      if (flags !== 0 && flags !== 4) {
        if (usesExpressions) skipValueType(reader);
        else reader.byte();
      }
      const elements = reader.unsigned();
      for (let j = 0; j < elements; j++) {
        if (usesExpressions) expression();
        else index();
      }
    }
    return patches;
  }

  /** Reads one function index and records the patch that renumbers it. */
  #indexPatch(reader: ByteReader, base: number, patches: Patch[]): void {
    const start = reader.offset;
    const old = reader.unsigned();
    const index = this.functionIndex(old);
    if (index !== old)
      patches.push({ start: start - base, end: reader.offset - base, content: encodeUnsigned(index) });
  }

  /** Walks a constant expression to its `end`, renumbering `ref.func`. */
  #expressionPatches(reader: ByteReader, base: number, patches: Patch[]): void {
    for (;;) {
      const start = reader.offset;
      const opcode = this.#bytes[start];
      if (opcode === Op.REF_FUNC) {
        reader.byte();
        this.#indexPatch(reader, base, patches);
        continue;
      }
      if (readInstruction(reader, -1) === Op.END) return;
    }
  }

  /** Every body with its calls and `ref.func` renumbered, then the replacement bodies. */
  #codeSection(section: Section, bodyOf: (entry: ReplacedImport) => readonly number[]): Uint8Array {
    const bodies = readFunctionBodies(this.#bytes, section, this.#importedCount);
    const chunks: Uint8Array[] = [Uint8Array.from(encodeUnsigned(bodies.length + this.#replaced.length))];
    const patches: Patch[] = [];
    for (const body of bodies) {
      patches.length = 0;
      const reader = new ByteReader(this.#bytes, body.codeStart, body.end);
      while (!reader.done) {
        const start = reader.offset;
        const opcode = this.#bytes[start];
        if (opcode === Op.CALL || opcode === Op.RETURN_CALL || opcode === Op.REF_FUNC) {
          reader.byte();
          this.#indexPatch(reader, body.start, patches);
        } else {
          readInstruction(reader, body.index);
        }
      }
      const code = this.#bytes.subarray(body.start, body.end);
      const patched = patches.length === 0 ? code : applyPatches(code, patches);
      chunks.push(Uint8Array.from(encodeUnsigned(patched.length)), patched);
    }
    for (const entry of this.replaced) {
      const body = bodyOf(entry);
      chunks.push(Uint8Array.from([...encodeUnsigned(body.length), ...body]));
    }
    return encodeSection(SectionId.CODE, concat(chunks));
  }

  /** A vector section with entries appended. */
  #vector(section: Section, added: readonly (readonly number[])[]): Uint8Array {
    const reader = new ByteReader(this.#bytes, section.contentStart, section.end);
    const count = reader.unsigned();
    const old = this.#bytes.subarray(reader.offset, section.end);
    return encodeSection(
      section.id,
      concat([Uint8Array.from(encodeUnsigned(count + added.length)), old, Uint8Array.from(added.flat())]),
    );
  }

  #optional(id: number): Section | undefined {
    return this.#sections.find((section) => section.id === id);
  }
}

function key(module: string, name: string): string {
  return `${module}\0${name}`;
}

function encodeType(signature: Signature): number[] {
  return [
    FUNC_TYPE_FORM,
    ...encodeUnsigned(signature.params.length),
    ...signature.params,
    ...encodeUnsigned(signature.results.length),
    ...signature.results,
  ];
}

function concat(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function unsupported(what: string): IsolaError {
  return new IsolaError('E_MODULE_UNSUPPORTED', `cannot replace the module's imports: ${what}`, {});
}
