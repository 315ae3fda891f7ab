/* attr - Postfix's "attr0" attribute protocol on a stream */
#ifndef GLOBAL_ATTR_H
#define GLOBAL_ATTR_H

#include <stddef.h>

#include "util/strbuf.h"
#include "util/stream.h"

/*
 * Wire format: name NUL value NUL ... and one extra NUL ending the list.
 * Integers are unsigned decimal (a negative int travels as its 32-bit
 * unsigned value); binary values are base64.
 *
 * Writers buffer; the caller flushes.  Readers return 0 on success and -1
 * on any failure (I/O error, EOF, wrong name, bad number, over-long
 * value), after logging a warning that names the attribute; the stream's
 * sticky error tells I/O trouble from protocol trouble.
 */
#define ATTR_VALUE_MAX	(1024 * 1024)	/* longest name or value accepted */

void attr_put_str(struct stream *s, const char *name, const char *value);
void attr_put_int(struct stream *s, const char *name, int value);
void attr_put_long(struct stream *s, const char *name, long value);
void attr_put_data(struct stream *s, const char *name, const void *data,
		   size_t len);
void attr_put_end(struct stream *s);

/* Read any next pair: 1 = pair read, 0 = end of list, -1 = error. */
int attr_read_pair(struct stream *s, struct strbuf *name,
		   struct strbuf *value);

/* Strict typed readers: the next pair must carry exactly this name. */
int attr_get_str(struct stream *s, const char *name, struct strbuf *value);
int attr_get_int(struct stream *s, const char *name, int *value);
int attr_get_long(struct stream *s, const char *name, long *value);
int attr_get_data(struct stream *s, const char *name, struct strbuf *value);
int attr_expect(struct stream *s, const char *name, const char *value);
/* The next item must be the end of the list (strict). */
int attr_get_end(struct stream *s);
/* Skip any remaining pairs up to and including the end of the list. */
int attr_skip_to_end(struct stream *s);

/* base64 helpers (OpenSSL underneath) */
void attr_base64_encode(struct strbuf *out, const void *data, size_t len);
int attr_base64_decode(struct strbuf *out, const char *text, size_t len);

#endif
