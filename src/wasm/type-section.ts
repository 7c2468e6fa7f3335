/**
 * The type section (binary/modules.html#type-section): the function types a module declares,
 * so that an import's signature can be compared with the one the host implements. The struct,
 * array and recursion-group forms of the GC proposal are walked so that type indices stay
 * right, and recorded as `undefined`, since no function import can have them as its type.
 */
import { IsolaError } from '../errors.js';
import { ByteReader, type Section } from './binary-reader.js';

/** A function type, its value types named as the text format names them (`i32`, `externref`). */
export interface FuncType {
  params: readonly string[];
  results: readonly string[];
}

/** Type forms (binary/types.html#function-types; the GC proposal's composite and recursive types). */
const TypeForm = Object.freeze({
  FUNC: 0x60,
  STRUCT: 0x5f,
  ARRAY: 0x5e,
  SUB: 0x50,
  SUB_FINAL: 0x4f,
  REC: 0x4e,
});

/** Single-byte value types (binary/types.html#value-types), reference types by their shorthand. */
const VALUE_TYPES: ReadonlyMap<number, string> = new Map([
  [0x7f, 'i32'],
  [0x7e, 'i64'],
  [0x7d, 'f32'],
  [0x7c, 'f64'],
  [0x7b, 'v128'],
  [0x70, 'funcref'],
  [0x6f, 'externref'],
  [0x6e, 'anyref'],
  [0x6d, 'eqref'],
  [0x6c, 'i31ref'],
  [0x6b, 'structref'],
  [0x6a, 'arrayref'],
  [0x69, 'exnref'],
  [0x71, 'nullref'],
  [0x72, 'nullexternref'],
  [0x73, 'nullfuncref'],
  [0x74, 'nullexnref'],
]);

/** `(ref ht)` and `(ref null ht)`, followed by a heap type. */
const REF = 0x64;
const REF_NULL = 0x63;

/** Every type the section declares, by type index; `undefined` for the ones that are not function types. */
export function readTypeSection(bytes: Uint8Array, section: Section): (FuncType | undefined)[] {
  const reader = new ByteReader(bytes, section.contentStart, section.end);
  const count = reader.unsigned();
  const types: (FuncType | undefined)[] = [];
  for (let i = 0; i < count; i++) {
    const form = reader.byte();
    if (form === TypeForm.REC) {
      const members = reader.unsigned();
      for (let j = 0; j < members; j++) types.push(readSubType(reader, reader.byte()));
    } else {
      types.push(readSubType(reader, form));
    }
  }
  return types;
}

/** A subtype: an optional `sub`/`sub final` prefix with its supertypes, then a composite type. */
function readSubType(reader: ByteReader, form: number): FuncType | undefined {
  if (form !== TypeForm.SUB && form !== TypeForm.SUB_FINAL) return readCompositeType(reader, form);
  const supertypes = reader.unsigned();
  for (let i = 0; i < supertypes; i++) reader.unsigned();
  return readCompositeType(reader, reader.byte());
}

function readCompositeType(reader: ByteReader, form: number): FuncType | undefined {
  switch (form) {
    case TypeForm.FUNC:
      return { params: readValueTypes(reader), results: readValueTypes(reader) };
    case TypeForm.STRUCT: {
      const fields = reader.unsigned();
      for (let i = 0; i < fields; i++) skipFieldType(reader);
      return undefined;
    }
    case TypeForm.ARRAY:
      skipFieldType(reader);
      return undefined;
    default:
      throw new IsolaError(
        'E_MODULE_INVALID',
        `module is malformed: a type at byte ${reader.offset - 1} has unknown form 0x${form.toString(16)}: ` +
          'rebuild it, or check that its toolchain targets features Node.js supports',
        { offset: reader.offset - 1 },
      );
  }
}

function readValueTypes(reader: ByteReader): string[] {
  const count = reader.unsigned();
  const types: string[] = [];
  for (let i = 0; i < count; i++) types.push(readValueType(reader));
  return types;
}

function readValueType(reader: ByteReader): string {
  const code = reader.byte();
  if (code === REF || code === REF_NULL)
    return `(ref ${code === REF_NULL ? 'null ' : ''}${readHeapType(reader)})`;
  return VALUE_TYPES.get(code) ?? `0x${code.toString(16)}`;
}

/**
 * A heap type is an s33 (binary/types.html#heap-types): an abstract type as one negative byte
 * (`func`, `extern`, the same codes as their reference shorthands) or a non-negative type index.
 */
function readHeapType(reader: ByteReader): string {
  const start = reader.offset;
  const first = reader.byte();
  if (first >= 0x40 && first < 0x80)
    return VALUE_TYPES.get(first)?.replace(/ref$/, '') ?? `0x${first.toString(16)}`;
  reader.offset = start;
  return String(reader.unsigned(64));
}

/** A struct field or array element: a storage type (a value type or packed i8/i16), then mutability. */
function skipFieldType(reader: ByteReader): void {
  readValueType(reader);
  reader.byte();
}

/** `(i32, i64) -> i32`, with `()` for no results and a parenthesised list for several. */
export function formatFuncType(type: FuncType): string {
  const results = type.results.length === 1 ? type.results[0] : `(${type.results.join(', ')})`;
  return `(${type.params.join(', ')}) -> ${results}`;
}
