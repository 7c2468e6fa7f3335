/*
 * setjmp/longjmp for wasm32-wasi, which bookworm's wasi-libc (2022) does not provide.
 *
 * clang (LLVM 14-18) built with `-mllvm -wasm-enable-sjlj` rewrites every call to setjmp and
 * longjmp itself (WebAssemblyLowerEmscriptenEHSjLj): setjmp becomes a call to saveSetjmp, which
 * stores a number identifying this setjmp in the buffer's first word, and longjmp becomes a call
 * to __wasm_longjmp, which throws a Wasm exception that the setjmp's function catches. Neither
 * function is ever linked; these declarations give them the right prototypes and attributes, and
 * jmp_buf the room saveSetjmp writes to. The runtime half is sjlj.c and sjlj.s.
 */
#ifndef ISOLA_SETJMP_H
#define ISOLA_SETJMP_H

/* Generous: saveSetjmp writes one word; the rest keeps the size of newer wasi-libc's jmp_buf. */
typedef unsigned long jmp_buf[8];

int setjmp(jmp_buf env) __attribute__((returns_twice));
void longjmp(jmp_buf env, int value) __attribute__((noreturn));

#endif
