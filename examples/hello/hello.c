// The hello example: greets with $GREETING, reads a file from the directory it was granted,
// and shows that nothing else on the host is visible.
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  const char *greeting = getenv("GREETING");
  printf("%s from %s, running inside isola's WASI sandbox\n", greeting ? greeting : "hello", argv[0]);

  FILE *motd = fopen("/data/motd.txt", "r");
  if (motd) {
    char line[256];
    while (fgets(line, sizeof line, motd)) printf("/data/motd.txt: %s", line);
    fclose(motd);
  } else {
    perror("/data/motd.txt");
  }

  // Not granted: the host's files do not exist for this guest.
  FILE *passwd = fopen("/etc/passwd", "r");
  printf("/etc/passwd is %s\n", passwd ? "VISIBLE (this is a bug)" : "not visible: only granted directories are");
  return passwd ? 1 : 0;
}
