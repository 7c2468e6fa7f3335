/*
 * Duktape's configuration for isola: Debian's generated duk_config.h (duktape-dev 2.7), which the
 * build copies beside duktape.c as duk_config_debian.h, then the few settings a wasm32-wasi guest
 * needs changed. Duktape 2.x reads its configuration only from this header (DUK_OPT_* flags are
 * gone), and the generated header resets most DUK_USE_* names itself, so changes go after it.
 *
 * wasm32-wasi matches none of the platforms the generated header knows, so it takes the "generic
 * fallback" branch: time() for Date.now() (whole seconds), gmtime() for the local offset, and
 * Duktape's own xoroshiro128+ seeded from the time for Math.random. The providers below replace
 * those (platform.c).
 */
#ifndef ISOLA_DUK_CONFIG_H
#define ISOLA_DUK_CONFIG_H

/*
 * Errors thrown from C carry no C file and line: a script's stack shows its own frames, not
 * "at [anon] (duk_js_compiler.c:511) internal" or the build machine's paths.
 */
#define DUK_FILE_MACRO NULL

#include "duk_config_debian.h"

#if defined(DUK_COMPILING_DUKTAPE)
double isola_date_now(void);
double isola_monotonic_now(void);
double isola_random_double(void);
#endif

/* Date.now(): WASI's realtime clock in whole milliseconds, as ECMAScript time values are. */
#undef DUK_USE_DATE_GET_NOW
#define DUK_USE_DATE_GET_NOW(ctx) isola_date_now()

/* performance.now(): WASI's monotonic clock. */
#undef DUK_USE_GET_MONOTONIC_TIME
#define DUK_USE_GET_MONOTONIC_TIME(ctx) isola_monotonic_now()

/* A WASI process has no time zone: local time is UTC, as in a container without TZ. */
#undef DUK_USE_DATE_GET_LOCAL_TZOFFSET
#define DUK_USE_DATE_GET_LOCAL_TZOFFSET(d) 0

/*
 * Math.random(): bits from WASI's random_get, drawn when first needed. Duktape's default would
 * seed at heap creation from the clock, so requests started in the same millisecond (or from one
 * snapshot) would draw the same numbers.
 */
#undef DUK_USE_GET_RANDOM_DOUBLE
#define DUK_USE_GET_RANDOM_DOUBLE(udata) isola_random_double()

/*
 * DUK_USE_FASTINT (integers kept as integers) stays off: Wasm's doubles are fast, and a
 * counting loop, array pushes and JSON ran no faster with it, for 28 KB more code.
 */

#undef DUK_USE_OS_STRING
#define DUK_USE_OS_STRING "wasi"

#endif
