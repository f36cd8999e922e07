/* lua-asp C core: every ASP operation on libmongoc. No Lua in here. */
#ifndef ASP_H
#define ASP_H

const char *asp_version(void);

#endif
