/**
 * Guests for the engine's isolation, reuse and limit tests, in WebAssembly text. Each names what
 * it shows; they are assembled with `wat()` (reference types on, for the table probe).
 */

/**
 * `probe()` reports what earlier calls left behind and then leaves its own marks: a mutable
 * global, a memory cell and a table slot. It returns global + 10 * memory cell + 100 if the table
 * slot was already set, so a fresh instance always answers 0 and a reused one counts up (111,
 * 222...). `_start` exits with the same number.
 */
export const STATE_PROBE = `(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (global $calls (mut i32) (i32.const 0))
  (table 2 funcref)
  (elem (i32.const 0) $mark)
  (func $mark)
  (func $probe (export "probe") (result i32) (local $seen i32)
    (local.set $seen
      (i32.add
        (i32.add (global.get $calls) (i32.mul (i32.load (i32.const 4096)) (i32.const 10)))
        (select (i32.const 0) (i32.const 100) (ref.is_null (table.get (i32.const 1))))))
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (i32.store (i32.const 4096) (i32.add (i32.load (i32.const 4096)) (i32.const 1)))
    (table.set (i32.const 1) (ref.func $mark))
    (local.get $seen))
  (func (export "_start") (call $exit (call $probe))))`;

/**
 * Exits with the errno fd_fdstat_get gives for fd 4, then opens a file under preopen fd 3 (which
 * takes fd 4) and leaves it open. A fresh context answers EBADF (8) every time.
 */
export const FD_PROBE = `(module
  (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $fdstat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "left-open")
  (func (export "_start") (local $errno i32)
    (local.set $errno (call $fdstat (i32.const 4) (i32.const 200)))
    ;; oflags CREAT (1); rights FD_READ | FD_WRITE (2 | 64).
    (drop (call $open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 9) (i32.const 1)
      (i64.const 66) (i64.const 0) (i32.const 0) (i32.const 300)))
    (call $exit (local.get $errno))))`;

/** `add(a, b)` returns a + b; a reactor with `_initialize`, which sets a base of 1000 added to every sum. */
export const ADDER_REACTOR = `(module
  (memory (export "memory") 1)
  (global $base (mut i32) (i32.const 0))
  (func (export "_initialize") (global.set $base (i32.const 1000)))
  (func (export "add") (param i32 i32) (result i32)
    (i32.add (global.get $base) (i32.add (local.get 0) (local.get 1)))))`;

/** Writes 5 bytes ("start") to stdout, then loops forever: output that must arrive before the deadline. */
export const PRINT_THEN_LOOP = `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "start")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 5))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (loop $forever (br $forever))))`;

/** Declares a 4-page memory with no maximum and grows it by `pages` pages; exits 1 if memory.grow failed. */
export const GROW_BY_ARG = `(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 4)
  (func (export "grow") (param $pages i32) (result i32)
    (i32.eq (memory.grow (local.get $pages)) (i32.const -1))))`;
