/*
 * strbuf - growable, length-tracked, always NUL-terminated byte buffer
 *
 * strbuf_create()/strbuf_free() make and destroy a heap buffer;
 * strbuf_init()/strbuf_release() do the same for one embedded in a struct.
 * The append functions return 0, or -1 when the buffer's ceiling would be
 * passed (the buffer is then unchanged).  strbuf_take() hands the storage
 * to the caller and leaves the buffer empty.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"
#include "util/xmalloc.h"

/* strbuf_init - initialize an embedded buffer */
void
strbuf_init(struct strbuf *sb, size_t ceiling)
{
	sb->data = NULL;
	sb->len = 0;
	sb->cap = 0;
	sb->ceiling = ceiling;
}

/* strbuf_create - allocate a buffer */
struct strbuf *
strbuf_create(size_t ceiling)
{
	struct strbuf *sb = xmalloc(sizeof(*sb));

	strbuf_init(sb, ceiling);
	return sb;
}

/* strbuf_release - free an embedded buffer's storage */
void
strbuf_release(struct strbuf *sb)
{
	free(sb->data);
	sb->data = NULL;
	sb->len = sb->cap = 0;
}

/* strbuf_free - destroy a heap buffer */
void
strbuf_free(struct strbuf *sb)
{
	if (sb == NULL)
		return;
	strbuf_release(sb);
	free(sb);
}

/* grow - make room for len more bytes plus the terminator */
static int
grow(struct strbuf *sb, size_t len)
{
	size_t need;

	if (sb->ceiling && (len > sb->ceiling || sb->len > sb->ceiling - len))
		return -1;
	need = sb->len + len + 1;
	if (need > sb->cap) {
		size_t cap = sb->cap ? sb->cap : 64;

		while (cap < need)
			cap *= 2;
		sb->data = xrealloc(sb->data, cap);
		sb->cap = cap;
	}
	return 0;
}

/* strbuf_reset - make the buffer empty, keeping its storage */
void
strbuf_reset(struct strbuf *sb)
{
	sb->len = 0;
	if (sb->data)
		sb->data[0] = 0;
}

/* strbuf_truncate - shorten to len bytes */
void
strbuf_truncate(struct strbuf *sb, size_t len)
{
	if (len < sb->len) {
		sb->len = len;
		sb->data[len] = 0;
	}
}

/* strbuf_append - append bytes */
int
strbuf_append(struct strbuf *sb, const void *data, size_t len)
{
	if (grow(sb, len) < 0)
		return -1;
	if (len)
		memcpy(sb->data + sb->len, data, len);
	sb->len += len;
	sb->data[sb->len] = 0;
	return 0;
}

/* strbuf_puts - append a C string */
int
strbuf_puts(struct strbuf *sb, const char *str)
{
	return strbuf_append(sb, str, strlen(str));
}

/* strbuf_putc - append one byte */
int
strbuf_putc(struct strbuf *sb, int ch)
{
	char c = (char)ch;

	/* Room for the byte and the terminator, under the ceiling. */
	if (sb->len + 1 < sb->cap
	    && (sb->ceiling == 0 || sb->len < sb->ceiling)) {
		sb->data[sb->len++] = c;
		sb->data[sb->len] = 0;
		return 0;
	}

	return strbuf_append(sb, &c, 1);
}

/* strbuf_set - replace the contents with a C string */
int
strbuf_set(struct strbuf *sb, const char *str)
{
	strbuf_reset(sb);
	return strbuf_puts(sb, str);
}

/* strbuf_vprintf - append formatted text */
int
strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || grow(sb, (size_t)n) < 0)
		return -1;
	vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
	return 0;
}

/* strbuf_printf - append formatted text */
int
strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = strbuf_vprintf(sb, fmt, ap);
	va_end(ap);
	return ret;
}

/* strbuf_take - hand over the storage as a C string; buffer becomes empty */
char *
strbuf_take(struct strbuf *sb)
{
	char *p = sb->data ? sb->data : xstrdup("");

	sb->data = NULL;
	sb->len = sb->cap = 0;
	return p;
}
