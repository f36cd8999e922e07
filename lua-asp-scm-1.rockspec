rockspec_format = "3.0"
package = "lua-asp"
version = "scm-1"
source = { url = "git+https://example.invalid/lua-asp.git" }
description = {
  summary = "Drive MongoDB Atlas Stream Processing from Lua",
  detailed = "A C core on libmongoc, the Lua module `asp`, and a pure-Lua pipeline builder.",
  license = "Apache-2.0",
}
dependencies = { "lua >= 5.1" }
external_dependencies = {
  LIBMONGOC = { header = "libmongoc-1.0/mongoc/mongoc.h", library = "mongoc-1.0" },
  LIBBSON = { header = "libbson-1.0/bson/bson.h", library = "bson-1.0" },
}
build = {
  type = "builtin",
  modules = {
    ["asp.core"] = {
      sources = { "src/core/version.c", "src/binding/module.c" },
      defines = { 'ASP_VERSION="scm"' },
      incdirs = { "src/core", "src/binding",
                  "$(LIBMONGOC_INCDIR)/libmongoc-1.0", "$(LIBBSON_INCDIR)/libbson-1.0" },
      libdirs = { "$(LIBMONGOC_LIBDIR)", "$(LIBBSON_LIBDIR)" },
      libraries = { "mongoc-1.0", "bson-1.0" },
    },
  },
}
