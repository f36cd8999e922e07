/* The one place the library version is written: CMake reads it from here for the project
 * version, and LuaRocks builds compile version.c with it, so both builds report the same
 * asp.version. */
#ifndef ASP_VERSION_H
#define ASP_VERSION_H

#define ASP_VERSION "0.1.0"

#endif
