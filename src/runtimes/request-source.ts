/**
 * What a pre-initialized interpreter's resume function (python-entry.ts, ruby-entry.ts) does
 * first, in every request: read this instance's argv and environment from WASI (the libc read
 * them once, at initialization) and write them, as hex, into a line of the interpreter's own
 * source that hands them to its runner: `<before><argv hex><between><environ hex><after>`.
 */
import { Code, encodeBody, ValType } from './wasm-emit.js';

/** `(src, length, dst) -> dst end`: writes the bytes at src as lowercase hex at dst. */
export function hexFunction(): number[] {
  const [src, length, dst, byte, nibble] = [0, 1, 2, 3, 4];
  const digit = (code: Code) =>
    // '0' + n, plus 39 more ('a' - '9' - 1) when n > 9.
    code
      .localTee(nibble)
      .i32Const(48)
      .i32Add()
      .localGet(nibble)
      .i32Const(9)
      .i32GtU()
      .i32Const(39)
      .i32Mul()
      .i32Add();
  const code = new Code().block().loop();
  code.localGet(length).i32Eqz().brIf(1);
  code.localGet(src).i32Load8U().localSet(byte);
  digit(code.localGet(dst).localGet(byte).i32Const(4).i32ShrU()).i32Store8(0);
  digit(code.localGet(dst).localGet(byte).i32Const(15).i32And()).i32Store8(1);
  code.localGet(src).i32Const(1).i32Add().localSet(src);
  code.localGet(dst).i32Const(2).i32Add().localSet(dst);
  code.localGet(length).i32Const(1).i32Sub().localSet(length);
  code.br(0).end().end().localGet(dst);
  return encodeBody([ValType.I32, ValType.I32], code);
}

/** The locals `emitRequestSource` uses, all i32, from index 0: the caller's body declares these first. */
export const REQUEST_SOURCE_LOCALS = 11;

/** Local indices `emitRequestSource` leaves results in. */
export const REQUEST_SOURCE = Object.freeze({ sizes: 0, text: 9, cursor: 10 });

export interface RequestSourceOptions {
  wasi: {
    args_sizes_get: number;
    args_get: number;
    environ_sizes_get: number;
    environ_get: number;
  };
  /** The function `hexFunction` made. */
  hex: number;
  /** The source around the two hex strings; `after` ends with whatever terminator the caller needs. */
  before: Uint8Array;
  between: Uint8Array;
  after: Uint8Array;
  /** Emits code that takes the byte count on the stack and leaves fresh memory's address in `local`. */
  allocate(code: Code, local: number): void;
}

/**
 * Emits the reading and writing into `code`, whose local `REQUEST_SOURCE.sizes` must already
 * point at 16 writable bytes. Afterwards local `text` holds the source's address and `cursor`
 * the address where `after` starts. An errno from WASI means the host broke its own contract: the code traps.
 */
export function emitRequestSource(code: Code, options: RequestSourceOptions): void {
  const [sizes, argc, argBytes, envc, envBytes, base, argBuf, envp, envBuf, text, cursor] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
  ];
  const { wasi, hex, before, between, after } = options;
  const check = () => code.if().unreachable().end();
  code.localGet(sizes).localGet(sizes).i32Const(4).i32Add().call(wasi.args_sizes_get);
  check();
  code
    .localGet(sizes)
    .i32Const(8)
    .i32Add()
    .localGet(sizes)
    .i32Const(12)
    .i32Add()
    .call(wasi.environ_sizes_get);
  check();
  code.localGet(sizes).i32Load(0).localSet(argc);
  code.localGet(sizes).i32Load(4).localSet(argBytes);
  code.localGet(sizes).i32Load(8).localSet(envc);
  code.localGet(sizes).i32Load(12).localSet(envBytes);
  // Pointer arrays, the strings, and the source with each string as two hex digits a byte.
  code.localGet(argc).localGet(envc).i32Add().i32Const(4).i32Mul();
  code.localGet(argBytes).localGet(envBytes).i32Add().i32Const(3).i32Mul().i32Add();
  options.allocate(code.i32Const(before.length + between.length + after.length).i32Add(), base);
  code.localGet(base).localGet(argc).i32Const(4).i32Mul().i32Add().localSet(argBuf);
  code.localGet(argBuf).localGet(argBytes).i32Add().localSet(envp);
  code.localGet(envp).localGet(envc).i32Const(4).i32Mul().i32Add().localSet(envBuf);
  code.localGet(envBuf).localGet(envBytes).i32Add().localSet(text);
  code.localGet(base).localGet(argBuf).call(wasi.args_get);
  check();
  code.localGet(envp).localGet(envBuf).call(wasi.environ_get);
  check();
  // The source: each piece written at the cursor, which moves past it.
  code.localGet(text).localSet(cursor).storeBytes(cursor, before);
  code
    .localGet(argBuf)
    .localGet(argBytes)
    .localGet(cursor)
    .i32Const(before.length)
    .i32Add()
    .call(hex)
    .localSet(cursor);
  code.storeBytes(cursor, between);
  code
    .localGet(envBuf)
    .localGet(envBytes)
    .localGet(cursor)
    .i32Const(between.length)
    .i32Add()
    .call(hex)
    .localSet(cursor);
  code.storeBytes(cursor, after);
}
