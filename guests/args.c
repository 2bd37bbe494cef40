// args: prints its arguments, the environment variables named by WANT_ENV (comma-separated) and
// its working directory as seen by libc, then exits with the status given as "exit=N" (last
// argument), else 0. Used to check argv/env/exit-code plumbing and docker-style command lines.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
  const char *want = getenv("WANT_ENV");
  if (want) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", want);
    for (char *name = strtok(buf, ","); name; name = strtok(NULL, ",")) {
      const char *v = getenv(name);
      printf("env %s=%s\n", name, v ? v : "(unset)");
    }
  }
  if (argc > 1 && strncmp(argv[argc - 1], "exit=", 5) == 0) return atoi(argv[argc - 1] + 5);
  return 0;
}
