# Every third-party library the build uses, found once here.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenSSL REQUIRED)

# libbson / libmongoc: 1.x names first, then the 2.x names.
pkg_search_module(BSON REQUIRED IMPORTED_TARGET libbson-1.0 bson2)
pkg_search_module(MONGOC REQUIRED IMPORTED_TARGET libmongoc-1.0 mongoc2)

# Admin API client (core) and server (aspd), aspd's store and regular expressions.
pkg_search_module(CURL REQUIRED IMPORTED_TARGET libcurl)
pkg_search_module(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
pkg_search_module(SQLITE REQUIRED IMPORTED_TARGET sqlite3)
pkg_search_module(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)

# Lua headers only (prefix LUAHDR: pkg-config would otherwise overwrite LUA_VERSION): the module never links liblua (the host provides the symbols).
if(LUA_VERSION STREQUAL "jit")
  pkg_search_module(LUAHDR REQUIRED luajit)
else()
  string(REPLACE "." "" _lua_nodot "${LUA_VERSION}")
  pkg_search_module(LUAHDR REQUIRED lua${LUA_VERSION} lua-${LUA_VERSION} lua${_lua_nodot})
endif()
message(STATUS "lua-asp: Lua ${LUA_VERSION} headers in ${LUAHDR_INCLUDE_DIRS}, libmongoc ${MONGOC_VERSION}")
