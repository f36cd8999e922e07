rockspec_format = "3.0"
package = "lua-asp"
version = "0.1.0-1"  -- src/core/version.h (asp.version), plus the rockspec revision
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
  -- Debian keeps curl/curl.h under the multiarch include directory, which the compiler
  -- searches but LuaRocks does not: check the library only.
  LIBCURL = { library = "curl" },
}
build = {
  type = "builtin",
  modules = {
    ["asp.core"] = {
      sources = {
        -- src/core: the C core
        "src/core/client.c", "src/core/commands.c", "src/core/error.c", "src/core/operations.c",
        "src/core/reply.c", "src/core/sample.c", "src/core/validate.c", "src/core/version.c",
        "src/core/admin_client.c", "src/core/admin_endpoints.c", "src/core/admin_http.c",
        "src/core/admin_token.c", "src/core/admin_validate.c",
        "src/core/deadline_stream.c", "src/core/monitor.c", "src/core/log.c",
        -- src/binding: the Lua module asp.core
        "src/binding/module.c", "src/binding/client.c", "src/binding/processor.c",
        "src/binding/cursor.c", "src/binding/error.c", "src/binding/object.c",
        "src/binding/options.c", "src/binding/admin.c",
        "src/binding/values.c", "src/binding/bson_decode.c", "src/binding/bson_encode.c",
        "src/binding/typed_values.c", "src/binding/int64.c", "src/binding/json.c",
        "src/binding/compat.c", "src/binding/monitor.c", "src/binding/lazy.c",
      },
      incdirs = { "src/core", "src/binding",
                  "$(LIBMONGOC_INCDIR)/libmongoc-1.0", "$(LIBBSON_INCDIR)/libbson-1.0" },
      libdirs = { "$(LIBMONGOC_LIBDIR)", "$(LIBBSON_LIBDIR)", "$(LIBCURL_LIBDIR)" },
      libraries = { "mongoc-1.0", "bson-1.0", "curl" },
    },
    ["asp"] = "lua/asp/init.lua",
    ["asp.admin"] = "lua/asp/admin.lua",
    ["asp.ngx"] = "lua/asp/ngx.lua",
    ["asp.pipeline"] = "lua/asp/pipeline.lua",
    ["asp.pipeline.definition"] = "lua/asp/pipeline/definition.lua",
    ["asp.pipeline.stages"] = "lua/asp/pipeline/stages.lua",
    ["asp.pipeline.validate"] = "lua/asp/pipeline/validate.lua",
    ["asp.pipeline.values"] = "lua/asp/pipeline/values.lua",
    ["asp.cli"] = "lua/asp/cli.lua",
    ["asp.cli.args"] = "lua/asp/cli/args.lua",
    ["asp.cli.commands"] = "lua/asp/cli/commands.lua",
    ["asp.cli.config"] = "lua/asp/cli/config.lua",
    ["asp.cli.connections"] = "lua/asp/cli/connections.lua",
    ["asp.cli.output"] = "lua/asp/cli/output.lua",
    ["asp.cli.privatelinks"] = "lua/asp/cli/privatelinks.lua",
    ["asp.cli.processors"] = "lua/asp/cli/processors.lua",
    ["asp.cli.stream"] = "lua/asp/cli/stream.lua",
    ["asp.cli.workspace"] = "lua/asp/cli/workspace.lua",
  },
  install = { bin = { asp = "bin/asp" } },
}
