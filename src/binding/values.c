/* Stub until the value mapping lands. */
#include "lasp_values.h"

void lasp_values_register(lua_State *L, int module_idx) {
  (void)L;
  (void)module_idx;
}
