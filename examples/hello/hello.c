// The hello example: a CGI app (RFC 3875) that greets with $GREETING, says which path it was
// asked for, reads a file bundled with the app, and shows that nothing else on the host is
// visible. `isola up examples/hello` serves it; each request runs in a fresh sandbox.
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  const char *greeting = getenv("GREETING");
  const char *path = getenv("PATH_INFO");
  printf("Content-Type: text/plain; charset=utf-8\n\n");
  printf("%s from hello.wasm, running in a fresh WebAssembly sandbox for this request.\n",
         greeting ? greeting : "Hello");
  printf("You asked for %s\n", path && *path ? path : "/");

  FILE *motd = fopen("/static/motd.txt", "r");
  if (motd) {
    char line[256];
    while (fgets(line, sizeof line, motd)) printf("/static/motd.txt: %s", line);
    fclose(motd);
  } else {
    perror("/static/motd.txt");
  }

  // Not granted: the host's files do not exist for this guest.
  FILE *passwd = fopen("/etc/passwd", "r");
  printf("/etc/passwd is %s\n", passwd ? "VISIBLE (this is a bug)" : "not visible: only granted files are");
  return passwd ? 1 : 0;
}
