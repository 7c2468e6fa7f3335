/*
 * js: runs a JavaScript file with Duktape, as a WASI command. isola serves scripts CGI-style with
 * it (`js /app/api/time.js`): each request is a fresh instance with the CGI variables in its
 * environment, the request body on stdin, and the response read from stdout. api.c lists the
 * globals a script gets beside ECMAScript 5.1 and the parts of ES2015+ that Duktape 2.7 has.
 *
 *   js SCRIPT [ARG...]
 *
 * The script runs as a global program (not a module), with __filename and __dirname set as Node
 * sets them for a CommonJS module. Exit status: 0, or process.exitCode / process.exit(n); 1 when
 * the script throws or does not compile, with the error (its stack when it has one) on stderr; 2
 * when the script cannot be read; 70 when Duktape fails fatally (out of memory outside a call).
 */
#include <stdlib.h>
#include <string.h>

#include "js.h"

extern char **environ;

static void fatal(void *udata, const char *message) {
  (void)udata;
  fflush(stdout);
  fprintf(stderr, "js: fatal error: %s\n", message ? message : "(no message)");
  js_exit(JS_EXIT_FATAL);
}

/*
 * [error] → [error]: writes what a thrown value says to stderr, as Node reports it uncaught: an
 * Error's stack, another value after "Uncaught". A script that does not compile gets its file
 * and line first, then the SyntaxError; its stack would only show the compiler.
 */
static duk_ret_t report_error(duk_context *ctx, void *udata) {
  const char *compiled = udata;
  if (compiled != NULL && duk_get_error_code(ctx, -1) == DUK_ERR_SYNTAX_ERROR) {
    duk_get_prop_string(ctx, -1, "lineNumber");
    fprintf(stderr, "%s:%ld\n", compiled, (long)duk_get_int(ctx, -1));
    duk_pop(ctx);
    duk_dup_top(ctx);
    duk_to_string(ctx, -1);
    js_write_string(ctx, -1, stderr);
  } else {
    /* A thrown value that is not an Error has no stack to show: say it was thrown. */
    if (!duk_is_error(ctx, -1)) fputs("Uncaught ", stderr);
    js_write_value(ctx, -1, stderr);
  }
  fputc('\n', stderr);
  duk_set_top(ctx, 1);
  return 1;
}

/* Reports the error on the stack top and pops it; `compiled` names the script when compiling failed. */
static void report_uncaught(duk_context *ctx, const char *compiled) {
  fflush(stdout);
  /* Safe: a getter on .stack or a toString can throw in turn. */
  if (duk_safe_call(ctx, report_error, (void *)compiled, 1, 1) != DUK_EXEC_SUCCESS) {
    fputs("Uncaught exception (it could not be converted to a string)\n", stderr);
  }
  duk_pop(ctx);
}

/* __filename and __dirname, as Node gives them to a CommonJS module (without resolving). */
static void set_script_globals(duk_context *ctx, const char *script) {
  js_push_utf8(ctx, script, strlen(script));
  duk_put_global_string(ctx, "__filename");
  const char *slash = strrchr(script, '/');
  if (slash == NULL) {
    duk_push_string(ctx, ".");
  } else {
    js_push_utf8(ctx, script, slash == script ? 1 : (size_t)(slash - script));
  }
  duk_put_global_string(ctx, "__dirname");
}

/* Reads, compiles and runs the script; returns the exit status. */
static int run_script(duk_context *ctx, const char *program, const char *script) {
  char *source;
  size_t length;
  const char *syscall;
  int error = js_read_file(script, &source, &length, &syscall);
  if (error != 0) {
    const char *code, *description;
    js_errno_name(error, &code, &description);
    fprintf(stderr, "%s: cannot %s script '%s': %s: %s\n", program, syscall, script, code, description);
    return JS_EXIT_USAGE;
  }
  /* A "#!" line, which Node skips, is a comment here. */
  if (length >= 2 && source[0] == '#' && source[1] == '!') source[0] = source[1] = '/';

  set_script_globals(ctx, script);
  js_push_utf8(ctx, source, length);
  free(source);
  js_push_utf8(ctx, script, strlen(script));
  if (duk_pcompile(ctx, 0) != 0) {
    report_uncaught(ctx, script);
    return 1;
  }
  if (duk_pcall(ctx, 0) != DUK_EXEC_SUCCESS) {
    report_uncaught(ctx, NULL);
    return 1;
  }
  duk_pop(ctx);
  return js_exit_code(ctx);
}

int main(int argc, char **argv) {
  const char *program = argc > 0 ? argv[0] : "js";
  if (argc < 2) {
    fprintf(stderr, "usage: %s SCRIPT [ARG...]\n", program);
    return JS_EXIT_USAGE;
  }
  duk_context *ctx = duk_create_heap(NULL, NULL, NULL, NULL, fatal);
  if (ctx == NULL) {
    fprintf(stderr, "%s: cannot create the JavaScript heap: out of memory\n", program);
    return JS_EXIT_FATAL;
  }
  js_install_api(ctx, argc, argv, environ);
  /* No duk_destroy_heap: the instance ends here, and finalizers have no event loop to run in. */
  js_exit(run_script(ctx, program, argv[1]));
}
