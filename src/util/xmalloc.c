/*
 * xmalloc - memory allocation that never returns NULL
 *
 * xmalloc(), xcalloc(), xrealloc(), xstrdup(), xstrndup() and xasprintf()
 * behave like their libc namesakes, except that running out of memory is
 * a fatal error: the process logs and exits, and the queue manager retries
 * the delivery later.  Callers therefore never check for NULL.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/msg.h"
#include "util/xmalloc.h"

/* xmalloc - allocate or die */
void *
xmalloc(size_t len)
{
	void *p = malloc(len ? len : 1);

	if (p == NULL)
		msg_fatal("out of memory allocating %zu bytes", len);
	return p;
}

/* xcalloc - allocate zeroed memory or die */
void *
xcalloc(size_t n, size_t len)
{
	void *p = calloc(n ? n : 1, len ? len : 1);

	if (p == NULL)
		msg_fatal("out of memory allocating %zu x %zu bytes", n, len);
	return p;
}

/* xrealloc - resize or die */
void *
xrealloc(void *ptr, size_t len)
{
	void *p = realloc(ptr, len ? len : 1);

	if (p == NULL)
		msg_fatal("out of memory reallocating %zu bytes", len);
	return p;
}

/* xstrdup - copy a string or die */
char *
xstrdup(const char *str)
{
	return xstrndup(str, strlen(str));
}

/* xstrndup - copy at most len bytes of a string, always terminated */
char *
xstrndup(const char *str, size_t len)
{
	char *p;
	size_t n = strnlen(str, len);

	p = xmalloc(n + 1);
	memcpy(p, str, n);
	p[n] = 0;
	return p;
}

/* xasprintf - format into a new string or die */
char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		msg_fatal("out of memory formatting a string");
	va_end(ap);
	return p;
}
