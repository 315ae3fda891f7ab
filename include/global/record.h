/* record - Postfix queue file records */
#ifndef GLOBAL_RECORD_H
#define GLOBAL_RECORD_H

#include <stddef.h>
#include <sys/types.h>

#include "util/strbuf.h"
#include "util/stream.h"

/* Record types used by the delivery agent (rec_type.h facts). */
#define REC_TYPE_SIZE	'C'
#define REC_TYPE_TIME	'T'
#define REC_TYPE_CTIME	'c'
#define REC_TYPE_FULL	'F'
#define REC_TYPE_INSP	'I'
#define REC_TYPE_FILT	'L'
#define REC_TYPE_FROM	'S'
#define REC_TYPE_DONE	'D'
#define REC_TYPE_RCPT	'R'
#define REC_TYPE_ORCP	'O'
#define REC_TYPE_DRCP	'/'
#define REC_TYPE_WARN	'W'
#define REC_TYPE_ATTR	'A'
#define REC_TYPE_KILL	'K'
#define REC_TYPE_RDR	'>'
#define REC_TYPE_FLGS	'f'
#define REC_TYPE_DELAY	'd'
#define REC_TYPE_VERP	'V'
#define REC_TYPE_DSN_RET	'<'
#define REC_TYPE_DSN_ENVID	'i'
#define REC_TYPE_DSN_ORCPT	'o'
#define REC_TYPE_DSN_NOTIFY	'n'
#define REC_TYPE_MILT_COUNT	'm'
#define REC_TYPE_PRIO	'P'
#define REC_TYPE_RRTO	'r'
#define REC_TYPE_ERTO	'e'
#define REC_TYPE_MESG	'M'
#define REC_TYPE_XTRA	'X'
#define REC_TYPE_END	'E'
#define REC_TYPE_NORM	'N'
#define REC_TYPE_CONT	'L'
#define REC_TYPE_DTXT	'w'
#define REC_TYPE_PTR	'p'

#define REC_TYPE_EOF	(-1)	/* clean end of input before a record */
#define REC_TYPE_ERROR	(-2)	/* truncated or malformed record */

/* rec_get flags */
#define REC_FLAG_NONE		0
#define REC_FLAG_FOLLOW_PTR	(1 << 0)	/* jump at 'p' records */
#define REC_FLAG_SKIP_DTXT	(1 << 1)	/* skip 'w' padding */
#define REC_FLAG_DEFAULT	(REC_FLAG_FOLLOW_PTR | REC_FLAG_SKIP_DTXT)

/*
 * rec_get() reads one record into data (replacing its contents) and
 * returns its type byte, REC_TYPE_EOF or REC_TYPE_ERROR.  A record longer
 * than maxlen (0: no limit) is an error.  Pointer records are followed at
 * most a bounded number of times per call chain to stop loops.
 */
int rec_get(struct stream *s, struct strbuf *data, size_t maxlen, int flags);
int rec_put(struct stream *s, int type, const void *data, size_t len);
int rec_fprintf(struct stream *s, int type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
