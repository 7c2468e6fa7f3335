/*
 * The runtime half of setjmp/longjmp as clang 14-18 lower them to Wasm exception handling
 * (`-mllvm -wasm-enable-sjlj`; see include/setjmp.h). The lowering calls these four functions;
 * newer wasi-libc ships them (as __wasm_setjmp and friends since LLVM 19), bookworm's does not.
 * They follow Emscripten's emscripten_setjmp.c of the same LLVM era, which defines the contract:
 *
 * - A function that calls setjmp keeps a table, malloc'ed on entry, of (setjmp id, label) pairs,
 *   one per setjmp it has run, ended by an id of 0. saveSetjmp gives `env` a fresh id, appends the
 *   pair (growing the table when full) and returns the table, its new capacity in tempRet0.
 * - longjmp(env, value) becomes __wasm_longjmp(env, value), which throws the __c_longjmp tag with
 *   a pointer to {env, value}. Every function with a setjmp catches that tag and asks testSetjmp
 *   whether env's id is in its own table: if so, it resumes at that label with `value` as setjmp's
 *   result; if not, it frees its table and throws again, so the exception reaches the frame that
 *   called setjmp, unwinding the frames in between.
 *
 * Single-threaded, as is every isola guest: the thrown arguments live in one static.
 */
#include <stdint.h>
#include <stdlib.h>

typedef struct {
  uint32_t id;
  uint32_t label;
} setjmp_entry;

static uint32_t temp_ret0;
static uint32_t last_setjmp_id;

uint32_t getTempRet0(void) { return temp_ret0; }

void setTempRet0(uint32_t value) { temp_ret0 = value; }

setjmp_entry *saveSetjmp(uint32_t *env, uint32_t label, setjmp_entry *table, uint32_t size) {
  uint32_t previous = *env;
  *env = ++last_setjmp_id;
  for (uint32_t i = 0; i < size; i++) {
    /*
     * The same buffer set again at the same call site (a setjmp in a loop, as in Duktape's
     * executor, which sets it again after every caught error): its old id can no longer be
     * thrown, since longjmp reads the id from the buffer, so the entry is reused. Emscripten's
     * version appends instead, and a long-running function's table then grows with every caught
     * throw, each one scanning it: 100,000 caught errors took 6.4 s instead of 0.6 s.
     */
    if (table[i].id == previous && table[i].label == label && previous != 0) {
      table[i].id = *env;
      temp_ret0 = size;
      return table;
    }
    if (table[i].id == 0) {
      table[i].id = *env;
      table[i].label = label;
      /* The table has size + 1 entries: there is always room for the terminating id. */
      table[i + 1].id = 0;
      temp_ret0 = size;
      return table;
    }
  }
  uint32_t grown = size * 2;
  table = realloc(table, sizeof(setjmp_entry) * (grown + 1));
  if (table == NULL) abort();
  table[size].id = *env;
  table[size].label = label;
  table[size + 1].id = 0;
  temp_ret0 = grown;
  return table;
}

uint32_t testSetjmp(uint32_t id, const setjmp_entry *table, uint32_t size) {
  for (uint32_t i = 0; i < size && table[i].id != 0; i++) {
    if (table[i].id == id) return table[i].label;
  }
  return 0;
}

/* sjlj.s: throws the __c_longjmp tag with `args`. C has no way to name a tag it defines. */
__attribute__((noreturn)) void __isola_throw_longjmp(void *args);

static struct {
  void *env;
  int value;
} longjmp_args;

__attribute__((noreturn)) void __wasm_longjmp(void *env, int value) {
  longjmp_args.env = env;
  /* C11 7.13.2.1: longjmp(env, 0) makes setjmp return 1. */
  longjmp_args.value = value == 0 ? 1 : value;
  __isola_throw_longjmp(&longjmp_args);
}
