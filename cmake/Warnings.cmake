# Strict warnings for our own targets; call asp_strict_warnings(target).
set(ASP_WARNING_FLAGS
  -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
  -Wpointer-arith -Wcast-qual -Wwrite-strings -Wundef -Wformat=2
  -Wno-unused-parameter)
if(ASP_WERROR)
  list(APPEND ASP_WARNING_FLAGS -Werror)
endif()

function(asp_strict_warnings target)
  target_compile_options(${target} PRIVATE ${ASP_WARNING_FLAGS})
endfunction()
