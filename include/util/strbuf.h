/* strbuf - growable, length-tracked, always NUL-terminated byte buffer */
#ifndef UTIL_STRBUF_H
#define UTIL_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

/*
 * A buffer holds len bytes at data[0..len-1] followed by a NUL byte that
 * is not counted.  The ceiling (0 = none) bounds len: an append that would
 * pass it fails with -1 and leaves the buffer unchanged, so an input that
 * is too long is refused instead of silently truncated.
 */
struct strbuf {
	char *data;
	size_t len;
	size_t cap;
	size_t ceiling;
};

#define STRBUF_INIT { 0, 0, 0, 0 }

struct strbuf *strbuf_create(size_t ceiling);
void strbuf_free(struct strbuf *sb);
void strbuf_init(struct strbuf *sb, size_t ceiling);
void strbuf_release(struct strbuf *sb);
void strbuf_reset(struct strbuf *sb);
void strbuf_truncate(struct strbuf *sb, size_t len);
int strbuf_append(struct strbuf *sb, const void *data, size_t len);
int strbuf_puts(struct strbuf *sb, const char *str);
int strbuf_putc(struct strbuf *sb, int ch);
int strbuf_printf(struct strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
int strbuf_set(struct strbuf *sb, const char *str);
char *strbuf_take(struct strbuf *sb);

/* strbuf_str - the contents as a C string (never NULL) */
static inline const char *
strbuf_str(const struct strbuf *sb)
{
	return sb->data ? sb->data : "";
}

#endif
