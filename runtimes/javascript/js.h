/* What js.c, api.c, text.c and platform.c share. */
#ifndef ISOLA_JS_H
#define ISOLA_JS_H

#include <stddef.h>
#include <stdio.h>

#include "duktape.h"

/* The exit status of a usage error or a script that cannot be read, as python and sh use. */
#define JS_EXIT_USAGE 2
/* The exit status after Duktape's fatal error handler ran (sysexits.h's EX_SOFTWARE). */
#define JS_EXIT_FATAL 70

/* api.c: the globals a script sees (print, console, process, readStdin, readFile). */
void js_install_api(duk_context *ctx, int argc, char **argv, char **environ);
/* process.exitCode if the script set it to a number, else 0. */
int js_exit_code(duk_context *ctx);
/*
 * Writes a value as console.log does: a string as is, an Error as its stack, another object as
 * JSON (String(value) when that fails), anything else as String(value). Leaves what it pushed on
 * the value stack: callers reset the top.
 */
void js_write_value(duk_context *ctx, duk_idx_t index, FILE *out);
/* Flushes stdout and stderr, then ends the process with `status`, as process.exit does. */
__attribute__((noreturn)) void js_exit(int status);

/*
 * api.c: reads a whole file into a malloc'ed buffer. Returns 0, or the errno of the failed call
 * with *syscall naming it ("open" or "read").
 */
int js_read_file(const char *path, char **bytes, size_t *length, const char **syscall);
/* The Node.js-style code and description of an errno ("ENOENT", "no such file or directory"). */
void js_errno_name(int error, const char **code, const char **description);

/* text.c: UTF-8 from WASI (files, stdin, argv, environ) pushed as an ECMAScript string. */
void js_push_utf8(duk_context *ctx, const char *bytes, size_t length);
/* text.c: writes the string at `index` to `out` as UTF-8. */
void js_write_string(duk_context *ctx, duk_idx_t index, FILE *out);
/*
 * text.c: the string at `index` as NUL-terminated UTF-8, valid while the value stack holds it;
 * throws a TypeError for a value that is not a string or holds a NUL.
 */
const char *js_require_utf8(duk_context *ctx, duk_idx_t index);

/* platform.c: forget the random words drawn so far, so the next Math.random() draws afresh. */
void js_random_reset(void);

#endif
