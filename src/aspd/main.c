/* Placeholder until the aspd issue lands its real entry point. */
#include <stdio.h>

int main(void) {
  fputs("aspd: not built yet\n", stderr);
  return 1;
}
