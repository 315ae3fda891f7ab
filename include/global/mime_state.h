/* mime_state - one-pass MIME parser with 8-bit to quoted-printable output */
#ifndef GLOBAL_MIME_STATE_H
#define GLOBAL_MIME_STATE_H

#include <stddef.h>
#include <sys/types.h>

#include "global/header_opts.h"
#include "util/strbuf.h"

/*
 * The parser is fed the message content one queue-file record at a time
 * (REC_TYPE_NORM: a line; REC_TYPE_CONT: a piece of a longer line) and
 * calls back with:
 *
 *   header(ctx, class, info, buf, offset)
 *	one complete header: continuation lines joined with "\n" (no CR),
 *	record pieces glued, "Name :" normalised to "Name:".  class says
 *	where it is (MIME_HDR_*); info is header_opts_find() of it (NULL for
 *	other names, and for the Content-Transfer-Encoding header that
 *	downgrading adds).  The callee may change buf; it must split it at
 *	"\n" for output and deal with lines longer than it can send.
 *   header_end(ctx)
 *	after the last header of the primary header block (may be NULL).
 *   body(ctx, rec_type, text, len, offset)
 *	a body line or line piece, as in the queue file, or a line of
 *	quoted-printable output (always REC_TYPE_NORM).  text may hold NUL
 *	bytes; it is NUL-terminated in the quoted-printable case only.
 *   body_end(ctx)
 *	once a non-text record (end of content) arrives (may be NULL).
 *   error(ctx, err, text, len)
 *	the first time each enabled MIME_ERR_* condition occurs, with the
 *	offending header or line (may be NULL).
 *
 * offset is the byte offset of the item in its header block or body
 * block, counting line ends as one byte (Postfix's header and body checks
 * receive the same numbers).
 *
 * End the content by passing the record type that ended it (normally
 * REC_TYPE_XTRA) with no text: it flushes a pending header or a partial
 * line and calls body_end.  An input that ends without a line end gets
 * one (never for empty input).
 */
#define MIME_HDR_PRIMARY	1	/* the message's own headers */
#define MIME_HDR_MULTIPART	2	/* after a multipart boundary */
#define MIME_HDR_NESTED		3	/* start of a message/rfc822 part */

struct mime_state_cb {
	void (*header)(void *ctx, int header_class,
		       const struct header_opts *info, struct strbuf *buf,
		       off_t offset);
	void (*header_end)(void *ctx);
	void (*body)(void *ctx, int rec_type, const char *text, size_t len,
		     off_t offset);
	void (*body_end)(void *ctx);
	void (*error)(void *ctx, int err, const char *text, size_t len);
};

/* Options (mime_state_create flags) */
#define MIME_OPT_NONE			0
#define MIME_OPT_DOWNGRADE		(1 << 0)  /* 8bit -> quoted-printable */
#define MIME_OPT_REPORT_8BIT_IN_7BIT_BODY (1 << 1)
#define MIME_OPT_REPORT_8BIT_IN_HEADER	(1 << 2)
#define MIME_OPT_REPORT_ENCODING_DOMAIN	(1 << 3)
#define MIME_OPT_REPORT_TRUNC_HEADER	(1 << 5)
#define MIME_OPT_DISABLE_MIME		(1 << 6)  /* ignore Content-* */
#define MIME_OPT_REPORT_NESTING		(1 << 7)

/* Errors (mime_state_update result bits; sticky) */
#define MIME_ERR_NESTING		(1 << 0)
#define MIME_ERR_TRUNC_HEADER		(1 << 1)
#define MIME_ERR_8BIT_IN_HEADER		(1 << 2)
#define MIME_ERR_8BIT_IN_7BIT_BODY	(1 << 3)
#define MIME_ERR_ENCODING_DOMAIN	(1 << 4)

struct mime_state_detail {
	int code;		/* MIME_ERR_* */
	const char *dsn;	/* RFC 3463 status */
	const char *text;	/* the reason text of the bounce */
};

struct mime_state;

/*
 * mime_state_create() starts in the primary headers, expecting text/plain
 * in 7bit.  The limits are read from the parameters at creation:
 * header_size_limit, mime_nesting_limit, mime_boundary_length_limit.
 * mime_state_update() processes one record and returns the bit-wise OR of
 * every enabled MIME_ERR_* seen so far.  mime_state_free(NULL) is a no-op.
 * mime_state_detail() gives the most serious error of a non-zero result.
 */
struct mime_state *mime_state_create(int flags, const struct mime_state_cb *cb,
				     void *ctx);
int mime_state_update(struct mime_state *state, int rec_type,
		      const char *text, size_t len);
void mime_state_free(struct mime_state *state);
const struct mime_state_detail *mime_state_detail(int errs);

/*
 * mime_state_limits() overrides the three limits of one parser (tests);
 * a value <= 0 keeps the current one.
 */
void mime_state_limits(struct mime_state *state, long header_limit,
		       long nesting_limit, long boundary_limit);

#endif
