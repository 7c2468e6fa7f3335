/**
 * Small WASI commands in WebAssembly text, named by what they do, for tests that assemble their
 * guest inline with `wat()` rather than depend on the fixtures build.
 */

const FD_WRITE =
  '(import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))';
const PROC_EXIT = '(import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))';

/** `$strlen(ptr)` and `$println(ptr, len)` (writes the bytes and a newline to stdout). Uses memory 0..31. */
const PRINT_HELPERS = `
  (data (i32.const 24) "\\n")
  (func $strlen (param $p i32) (result i32) (local $n i32)
    (block $done (loop $next
      (br_if $done (i32.eqz (i32.load8_u (i32.add (local.get $p) (local.get $n)))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $next)))
    (local.get $n))
  (func $println (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (i32.store (i32.const 8) (i32.const 24))
    (i32.store (i32.const 12) (i32.const 1))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 2) (i32.const 16))))`;

/** Writes "hello, world\n" to stdout. */
export const HELLO_STDOUT = `(module
  ${FD_WRITE}
  (memory (export "memory") 1)
  (data (i32.const 64) "hello, world\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 13))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))`;

/** Exits with code 7 through proc_exit. */
export const EXIT_7 = `(module
  ${PROC_EXIT}
  (memory (export "memory") 1)
  (func (export "_start") (call $exit (i32.const 7))))`;

/** Prints each argv (`args`) or environ (`environ`) entry on a line of its own. */
function printList(what: 'args' | 'environ'): string {
  return `(module
  (import "wasi_snapshot_preview1" "${what}_sizes_get" (func $sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "${what}_get" (func $get (param i32 i32) (result i32)))
  ${FD_WRITE}
  (memory (export "memory") 1)
  ${PRINT_HELPERS}
  (func (export "_start") (local $count i32) (local $i i32) (local $p i32)
    (drop (call $sizes (i32.const 32) (i32.const 36)))
    (local.set $count (i32.load (i32.const 32)))
    (drop (call $get (i32.const 1024) (i32.const 4096)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
      (local.set $p (i32.load (i32.add (i32.const 1024) (i32.mul (local.get $i) (i32.const 4)))))
      (call $println (local.get $p) (call $strlen (local.get $p)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))))`;
}

export const PRINT_ARGS = printList('args');
export const PRINT_ENV = printList('environ');

/** Prints the guest path of the preopen at fd 3; exits 9 when there is none. */
export const PRINT_PREOPEN = `(module
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_dir_name" (func $dir_name (param i32 i32 i32) (result i32)))
  ${FD_WRITE}
  ${PROC_EXIT}
  (memory (export "memory") 1)
  ${PRINT_HELPERS}
  (func (export "_start")
    (if (call $prestat_get (i32.const 3) (i32.const 32)) (then (call $exit (i32.const 9))))
    (drop (call $dir_name (i32.const 3) (i32.const 4096) (i32.load (i32.const 36))))
    (call $println (i32.const 4096) (i32.load (i32.const 36)))))`;

/**
 * Creates the file named by argv[1] in the preopen at fd 3 and writes "hi" to it. Exits 0 on
 * success, 100 + errno when path_open fails, or fd_write's errno.
 */
export const WRITE_FILE = `(module
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  ${FD_WRITE}
  ${PROC_EXIT}
  (memory (export "memory") 1)
  (data (i32.const 512) "hi")
  ${PRINT_HELPERS}
  (func (export "_start") (local $path i32) (local $errno i32)
    (drop (call $args_get (i32.const 1024) (i32.const 4096)))
    (local.set $path (i32.load (i32.const 1028)))
    ;; oflags CREAT|TRUNC, rights FD_WRITE; the new fd lands at 256
    (local.set $errno (call $path_open (i32.const 3) (i32.const 0) (local.get $path) (call $strlen (local.get $path))
      (i32.const 9) (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 256)))
    (if (local.get $errno) (then (call $exit (i32.add (i32.const 100) (local.get $errno)))))
    (i32.store (i32.const 300) (i32.const 512))
    (i32.store (i32.const 304) (i32.const 2))
    (call $exit (call $fd_write (i32.load (i32.const 256)) (i32.const 300) (i32.const 1) (i32.const 308)))))`;

/**
 * Reads stdin 3 bytes at a time until end of input; exits with 1000 * (first byte) + bytes read,
 * so the outcome shows both that data arrived and that it arrived whole across several reads.
 */
export const COUNT_STDIN = `(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  ${PROC_EXIT}
  (memory (export "memory") 1)
  (func (export "_start") (local $total i32) (local $n i32)
    (i32.store (i32.const 0) (i32.const 100))
    (i32.store (i32.const 4) (i32.const 3))
    (loop $more
      (if (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)) (then (call $exit (i32.const 1))))
      (local.set $n (i32.load (i32.const 8)))
      (if (i32.eqz (local.get $total)) (then (i32.store8 (i32.const 200) (i32.load8_u (i32.const 100)))))
      (local.set $total (i32.add (local.get $total) (local.get $n)))
      (i32.store (i32.const 0) (i32.add (i32.const 100) (i32.rem_u (local.get $total) (i32.const 64))))
      (br_if $more (local.get $n)))
    (call $exit (i32.add (i32.mul (i32.load8_u (i32.const 200)) (i32.const 1000)) (local.get $total)))))`;

/** Copies stdin to stdout until end of input. */
export const CAT = `(module
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  ${FD_WRITE}
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $more
      (i32.store (i32.const 0) (i32.const 1024))
      (i32.store (i32.const 4) (i32.const 4096))
      (drop (call $fd_read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
      (if (i32.load (i32.const 8)) (then
        (i32.store (i32.const 4) (i32.load (i32.const 8)))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        (br $more))))))`;

/** Never returns. */
export const INFINITE_LOOP = `(module
  (memory (export "memory") 1)
  (func (export "_start") (loop $forever (br $forever))))`;

/** Executes `unreachable`. */
export const UNREACHABLE = `(module
  (memory (export "memory") 1)
  (func (export "_start") unreachable))`;

/** Grows its memory from 1 page by 16 (1 MiB); exits 0 when that worked, 1 when memory.grow failed. */
export const GROW_1MIB = `(module
  ${PROC_EXIT}
  (memory (export "memory") 1)
  (func (export "_start")
    (call $exit (i32.eq (memory.grow (i32.const 16)) (i32.const -1)))))`;

/** Writes 4 MiB of "x" to stdout in 64 KiB writes; exits with the first failing write's errno. */
export const BIG_STDOUT = `(module
  ${FD_WRITE}
  ${PROC_EXIT}
  (memory (export "memory") 2)
  (func (export "_start") (local $i i32) (local $errno i32)
    (loop $fill
      (i64.store (i32.add (i32.const 1024) (local.get $i)) (i64.const 0x7878787878787878))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br_if $fill (i32.lt_u (local.get $i) (i32.const 65536))))
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 65536))
    (local.set $i (i32.const 0))
    (loop $write
      (local.set $errno (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
      (if (local.get $errno) (then (call $exit (local.get $errno))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $write (i32.lt_u (local.get $i) (i32.const 64))))))`;

/** A command that writes exactly `text` to stdout (e.g. a whole CGI response) and returns. */
export function writesStdout(text: string): string {
  const bytes = new TextEncoder().encode(text);
  const data = Array.from(bytes, (byte) => `\\${byte.toString(16).padStart(2, '0')}`).join('');
  return `(module
  ${FD_WRITE}
  (memory (export "memory") 1)
  (data (i32.const 64) "${data}")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const ${bytes.length}))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))`;
}
