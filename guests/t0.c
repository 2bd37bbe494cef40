// t0: prints the wall-clock time (CLOCK_REALTIME, ns) as the very first thing it does, then exits.
// The start-up benchmark compares it with when the host process was started.
#include <stdio.h>
#include <time.h>

int main(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  printf("t0 %lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
  return 0;
}
