/* xmalloc - memory allocation that never returns NULL */
#ifndef UTIL_XMALLOC_H
#define UTIL_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t len);
void *xcalloc(size_t n, size_t len);
void *xrealloc(void *ptr, size_t len);
char *xstrdup(const char *str);
char *xstrndup(const char *str, size_t len);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
