# `cmake --install`: asp.core under lib/lua/<ver>, the Lua modules under share/lua/<ver>
# (the directories a stock interpreter searches for /usr/local), and the `asp` command.
# Also build/bin/asp, the same command running from the source and build trees.
if(LUA_VERSION STREQUAL "jit")
  set(_lua_abi 5.1)
  set(_lua_interp luajit)
else()
  set(_lua_abi ${LUA_VERSION})
  set(_lua_interp lua${LUA_VERSION})
endif()
find_program(ASP_CLI_LUA ${_lua_interp})
if(NOT ASP_CLI_LUA)
  set(ASP_CLI_LUA /usr/bin/env ${_lua_interp})
endif()
set(ASP_LUA_SHEBANG ${ASP_CLI_LUA})

# Build tree: modules from the source tree, asp.core from the build tree.
set(ASP_LUA_LDIR ${PROJECT_SOURCE_DIR}/lua)
set(ASP_LUA_CDIR ${CMAKE_BINARY_DIR}/lua)
configure_file(${PROJECT_SOURCE_DIR}/cmake/asp.lua.in ${CMAKE_BINARY_DIR}/bin/asp
  FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE
  @ONLY)

# Installed: paths under the prefix given at install time (cmake --install --prefix).
install(TARGETS asp_binding LIBRARY DESTINATION lib/lua/${_lua_abi}/asp)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/lua/ DESTINATION share/lua/${_lua_abi} FILES_MATCHING PATTERN "*.lua")
install(CODE "
  set(ASP_LUA_SHEBANG \"${ASP_LUA_SHEBANG}\")
  set(ASP_LUA_LDIR \"\${CMAKE_INSTALL_PREFIX}/share/lua/${_lua_abi}\")
  set(ASP_LUA_CDIR \"\${CMAKE_INSTALL_PREFIX}/lib/lua/${_lua_abi}\")
  configure_file(\"${PROJECT_SOURCE_DIR}/cmake/asp.lua.in\" \"${CMAKE_BINARY_DIR}/install/asp\" @ONLY)
  file(INSTALL \"${CMAKE_BINARY_DIR}/install/asp\" DESTINATION \"\${CMAKE_INSTALL_PREFIX}/bin\"
       FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
")
