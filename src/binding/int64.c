/* Integer arithmetic on the asp.int32 / asp.int64 boxes, so that an int64 beyond 2^53 on
 * Lua 5.1 / 5.2 / LuaJIT (where it decodes to a box) can still be added, compared and
 * printed exactly. Operands are boxes or Lua numbers with an integral value (within 2^53
 * where numbers are doubles only);
 * results are exact: an integer on 5.3+, elsewhere a number within +-2^53 and a box
 * beyond. Overflow and inexact operands raise instead of rounding. */
#include <math.h>

#include "lasp_values.h"

/* The int64 value of an operand: an int32/int64 box, or an integral number that is exact
 * as a double (or a 5.3+ integer). */
bool lasp_int_operand(lua_State *L, int idx, int64_t *out) {
  if (lua_type(L, idx) == LUA_TNUMBER) {
#if !LASP_HAS_INTEGERS
    if (!lasp_isinteger(L, idx)) return false; /* beyond 2^53 a double is no longer exact */
#endif
    return lasp_toint64(L, idx, out);
  }
  if (lua_type(L, idx) == LUA_TUSERDATA) {
    const lasp_typed_t *v;
    bool ok;
    lasp_push_typed_mt(L);
    v = lasp_test_typed(L, idx, lua_gettop(L));
    ok = v != NULL && lasp_typed_int(v, out);
    lua_pop(L, 1);
    return ok;
  }
  return false;
}

void lasp_push_exact_int(lua_State *L, int64_t i) {
#if LASP_HAS_INTEGERS
  lua_pushinteger(L, (lua_Integer)i);
#else
  if (i < -(int64_t)LASP_EXACT_INT_MAX || i > (int64_t)LASP_EXACT_INT_MAX)
    lasp_push_int64_box(L, i);
  else
    lua_pushnumber(L, (lua_Number)i);
#endif
}

static void operands(lua_State *L, int64_t *a, int64_t *b) {
  if (!lasp_int_operand(L, 1, a) || !lasp_int_operand(L, 2, b))
    luaL_error(
        L,
        "int64 arithmetic needs integers (int32/int64 values or integral numbers), got %s and %s",
        luaL_typename(L, 1), luaL_typename(L, 2));
}

static int overflow(lua_State *L, const char *op) {
  return luaL_error(L, "int64 overflow in %s", op);
}

static int m_add(lua_State *L) {
  int64_t a, b, r;
  operands(L, &a, &b);
  if (__builtin_add_overflow(a, b, &r)) return overflow(L, "+");
  lasp_push_exact_int(L, r);
  return 1;
}

static int m_sub(lua_State *L) {
  int64_t a, b, r;
  operands(L, &a, &b);
  if (__builtin_sub_overflow(a, b, &r)) return overflow(L, "-");
  lasp_push_exact_int(L, r);
  return 1;
}

static int m_mul(lua_State *L) {
  int64_t a, b, r;
  operands(L, &a, &b);
  if (__builtin_mul_overflow(a, b, &r)) return overflow(L, "*");
  lasp_push_exact_int(L, r);
  return 1;
}

/* Lua's modulo: the result takes the divisor's sign. */
static int m_mod(lua_State *L) {
  int64_t a, b, r;
  operands(L, &a, &b);
  if (b == 0) return luaL_error(L, "int64 modulo by zero");
  r = b == -1 ? 0 : a % b;
  if (r != 0 && (r ^ b) < 0) r += b;
  lasp_push_exact_int(L, r);
  return 1;
}

/* Lua's floor division (the // operator on 5.3+, asp.idiv elsewhere). */
static int m_idiv(lua_State *L) {
  int64_t a, b, q;
  operands(L, &a, &b);
  if (b == 0) return luaL_error(L, "int64 division by zero");
  if (a == INT64_MIN && b == -1) return overflow(L, "//");
  q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1;
  lasp_push_exact_int(L, q);
  return 1;
}

/* `/` is float division in every Lua: the quotient as a number. */
static int m_div(lua_State *L) {
  int64_t a, b;
  operands(L, &a, &b);
  lua_pushnumber(L, (lua_Number)a / (lua_Number)b);
  return 1;
}

static int m_unm(lua_State *L) {
  int64_t a;
  if (!lasp_int_operand(L, 1, &a))
    return luaL_error(L, "int64 arithmetic needs integers, got %s", luaL_typename(L, 1));
  if (a == INT64_MIN) return overflow(L, "unary -");
  lasp_push_exact_int(L, -a);
  return 1;
}

/* asp.tonumber(v): a number, or an int32/int64/double box, as a Lua number when that is
 * exact; nil, reason otherwise (Lua's own tonumber never looks inside userdata). */
static int l_tonumber(lua_State *L) {
  int64_t i;
  if (lua_type(L, 1) == LUA_TNUMBER) {
    lua_pushvalue(L, 1);
    return 1;
  }
  if (lasp_int_operand(L, 1, &i)) {
#if !LASP_HAS_INTEGERS
    if (i < -(int64_t)LASP_EXACT_INT_MAX || i > (int64_t)LASP_EXACT_INT_MAX) {
      lua_pushnil(L);
      lua_pushliteral(L, "integer beyond 2^53 has no exact Lua number on this Lua version");
      return 2;
    }
#endif
    lasp_push_exact_int(L, i);
    return 1;
  }
  if (lua_type(L, 1) == LUA_TUSERDATA) {
    double d;
    bool ok;
    lasp_push_typed_mt(L);
    {
      const lasp_typed_t *v = lasp_test_typed(L, 1, lua_gettop(L));
      ok = v != NULL && lasp_typed_double(v, &d);
    }
    lua_pop(L, 1);
    if (ok) {
      lua_pushnumber(L, (lua_Number)d);
      return 1;
    }
  }
  lua_pushnil(L);
  lua_pushfstring(L, "%s has no number value", luaL_typename(L, 1));
  return 2;
}

static const luaL_Reg int_meta[] = {{"__add", m_add}, {"__sub", m_sub}, {"__mul", m_mul},
                                    {"__mod", m_mod}, {"__div", m_div}, {"__idiv", m_idiv},
                                    {"__unm", m_unm}, {NULL, NULL}};

static const luaL_Reg int_funcs[] = {{"tonumber", l_tonumber}, {"idiv", m_idiv}, {NULL, NULL}};

void lasp_int64_register(lua_State *L, int mt_idx, int module_idx) {
  lua_pushvalue(L, mt_idx);
  luaL_setfuncs(L, int_meta, 0);
  lua_pop(L, 1);
  lua_pushvalue(L, module_idx);
  luaL_setfuncs(L, int_funcs, 0);
  lua_pop(L, 1);
}
