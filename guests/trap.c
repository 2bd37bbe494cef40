// trap: dies the way its argument says, to check how the host reports guest faults:
//   unreachable   executes `unreachable` (__builtin_trap)
//   oob           loads from far outside linear memory
//   div0          integer division by zero
//   exit N        exits with status N after printing a line
//   write-trap    writes a file, then traps (the written data must survive)
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  const char *how = argc > 1 ? argv[1] : "unreachable";
  printf("trap: %s\n", how);
  fflush(stdout);
  if (strcmp(how, "oob") == 0) {
    volatile int *p = (volatile int *)0xfffffff0u;
    return *p;
  }
  if (strcmp(how, "div0") == 0) {
    volatile int zero = 0, seven = 7;
    return seven / zero;
  }
  if (strcmp(how, "exit") == 0) return argc > 2 ? atoi(argv[2]) : 0;
  if (strcmp(how, "write-trap") == 0) {
    int fd = open("/written", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    write(fd, "kept\n", 5);
    close(fd);
  }
  __builtin_trap();
}
