#include "version.h"

#include "asp.h"

const char *asp_version(void) {
  return ASP_VERSION;
}
