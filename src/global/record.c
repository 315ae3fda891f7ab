/*
 * record - Postfix queue file records
 *
 * A record is one type byte, the data length in 7-bit groups (least
 * significant group first, 0x80 set on every length byte but the last, at
 * most 5 bytes, value at most INT_MAX), then the data.
 *
 * rec_get() reads one record into data (replaced) and returns its type,
 *	REC_TYPE_EOF when the input ends cleanly before a type byte, or
 *	REC_TYPE_ERROR after a warning: truncated length or data, a sixth
 *	length byte, a length over INT_MAX or over maxlen (0: no limit; the
 *	data of such a record is skipped, as Postfix does), a bad pointer
 *	record, a pointer loop, or an I/O error (see stream_error()).
 *	REC_FLAG_SKIP_DTXT skips 'w' padding records.  REC_FLAG_FOLLOW_PTR
 *	treats a 'p' record as "continue reading at this decimal offset"; a
 *	zero offset is Postfix's placeholder (cleanup writes "p 0" after the
 *	headers when milters may add some later) and means "continue with
 *	the next record".
 * rec_put() writes one record; rec_fprintf() formats its data.  Both
 *	return the type, or REC_TYPE_ERROR when the stream has failed
 *	(output is buffered: check again after stream_flush()).
 *
 * Pointer loops: as in Postfix, a loop is detected by counting reverse
 * jumps (to an offset before the end of the pointer record) on one
 * stream, over all rec_get() calls.  A legitimate file has one reverse
 * jump per inserted header per reading pass, so more than
 * REC_REVERSE_JUMP_MAX is taken as a loop.  Like Postfix's, the count is
 * not reset when the caller seeks back to read the same stream again.  In
 * addition one rec_get() call follows at most REC_PTR_CHAIN_MAX pointers
 * in a row.
 *
 * SEE ALSO
 *	postfix-interfaces.md section 4; Postfix record(3), rec_type(3)
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "global/record.h"
#include "util/msg.h"
#include "util/strbuf.h"
#include "util/stream.h"

#define REC_LEN_BYTES_MAX	5	/* 5 x 7 bits */
#define REC_LEN_MAX		INT_MAX	/* Postfix's lengths are ints */
#define REC_PTR_CHAIN_MAX	10000	/* pointers in a row, one call */
#define REC_REVERSE_JUMP_MAX	10000	/* backward jumps, one stream */
#define REC_CHUNK		8192	/* data is read in pieces this big */

/*
 * Reverse-jump accounting, for the one stream that followed a pointer
 * last.  struct stream has no room for it, hence the file-level state.
 * A stream is known by address, descriptor, file and its input byte count
 * (which never decreases), so a new stream that happens to reuse an old
 * one's memory and descriptor for the same file is still told apart.
 */
static struct {
	const struct stream *stream;
	int fd;
	dev_t dev;
	ino_t ino;
	unsigned long long bytes_in;
	unsigned reverse_jumps;
} jump_state;

/* where - the stream position for a warning, -1 if not seekable */
static long long
where(const struct stream *s)
{
	return (long long)stream_tell(s);
}

/* skip_bytes - consume up to len bytes of input; stops at EOF */
static void
skip_bytes(struct stream *s, size_t len)
{
	while (len > 0 && stream_getc(s) >= 0)
		len--;
}

/* read_data - read exactly len bytes into data; 0 ok, -1 short */
static int
read_data(struct stream *s, struct strbuf *data, size_t len)
{
	char chunk[REC_CHUNK];

	/*
	 * Grow with the input instead of trusting the length field, so a
	 * lying length costs no more memory than the file has bytes.
	 */
	while (len > 0) {
		size_t take = len < sizeof(chunk) ? len : sizeof(chunk);

		if (stream_read_exact(s, chunk, take) < 0)
			return -1;
		if (strbuf_append(data, chunk, take) < 0)
			return -2;
		len -= take;
	}
	return 0;
}

/* same_stream - is this the stream whose jumps are being counted */
static int
same_stream(const struct stream *s, const struct stat *st)
{
	return jump_state.stream == s && jump_state.fd == stream_fd(s)
	    && jump_state.dev == st->st_dev && jump_state.ino == st->st_ino
	    && jump_state.bytes_in <= s->bytes_in;
}

/* forget_jumps - start counting afresh (after a loop was reported) */
static void
forget_jumps(void)
{
	memset(&jump_state, 0, sizeof(jump_state));
}

/*
 * follow_ptr - act on a pointer record whose data is text; the record
 * ended at position here.  0 = continue reading, -1 = error (warned).
 */
static int
follow_ptr(struct stream *s, const struct strbuf *text, off_t here)
{
	const char *cp = strbuf_str(text);
	long long offset = 0;
	struct stat st;

	/* Written as "%15ld": leading spaces, then digits only. */
	while (*cp == ' ' || *cp == '\t')
		cp++;
	if (*cp == 0 || strspn(cp, "0123456789") != strlen(cp)
	    || (size_t)(cp - text->data) + strlen(cp) != text->len) {
		msg_warn("queue file offset %lld: malformed pointer record "
			 "value \"%.100s\"", (long long)here, text->data);
		return -1;
	}
	for (; *cp; cp++) {
		if (offset > (LLONG_MAX - 9) / 10) {
			msg_warn("queue file offset %lld: pointer record value "
				 "\"%.100s\" out of range", (long long)here,
				 text->data);
			return -1;
		}
		offset = offset * 10 + (*cp - '0');
	}
	/* Postfix's placeholder: nothing was inserted here (yet). */
	if (offset == 0)
		return 0;

	if (here >= 0 && offset < here) {
		if (fstat(stream_fd(s), &st) < 0) {
			msg_warn("queue file offset %lld: fstat: %s",
				 (long long)here, strerror(errno));
			return -1;
		}
		if (!same_stream(s, &st)) {
			jump_state.stream = s;
			jump_state.fd = stream_fd(s);
			jump_state.dev = st.st_dev;
			jump_state.ino = st.st_ino;
			jump_state.reverse_jumps = 0;
		}
		jump_state.bytes_in = s->bytes_in;
		if (++jump_state.reverse_jumps > REC_REVERSE_JUMP_MAX) {
			msg_warn("queue file offset %lld: more than %d reverse "
				 "pointer jumps: pointer loop",
				 (long long)here, REC_REVERSE_JUMP_MAX);
			forget_jumps();
			return -1;
		}
	}
	if (stream_seek(s, (off_t)offset) < 0) {
		msg_warn("queue file offset %lld: seek to %lld after pointer "
			 "record: %s", (long long)here, offset,
			 stream_strerror(s));
		return -1;
	}
	return 0;
}

/* rec_get - read one record, following pointers and skipping padding */
int
rec_get(struct stream *s, struct strbuf *data, size_t maxlen, int flags)
{
	int pointers = 0;

	for (;;) {
		int type, byte, nbytes;
		uint64_t len = 0;

		strbuf_reset(data);
		if ((type = stream_getc(s)) < 0) {
			if (stream_error(s) == STREAM_EOF)
				return REC_TYPE_EOF;
			msg_warn("queue file read error: %s",
				 stream_strerror(s));
			return REC_TYPE_ERROR;
		}
		for (nbytes = 0;; nbytes++) {
			if (nbytes >= REC_LEN_BYTES_MAX) {
				msg_warn("queue file offset %lld: more than %d "
					 "length bytes, record type %d",
					 where(s), REC_LEN_BYTES_MAX, type);
				return REC_TYPE_ERROR;
			}
			if ((byte = stream_getc(s)) < 0) {
				msg_warn("queue file offset %lld: %s reading "
					 "length, record type %d", where(s),
					 stream_error(s) == STREAM_EOF
					 ? "unexpected end of input"
					 : stream_strerror(s), type);
				return REC_TYPE_ERROR;
			}
			len |= (uint64_t)(byte & 0x7f) << (7 * nbytes);
			if ((byte & 0x80) == 0)
				break;
		}
		if (len > REC_LEN_MAX || (maxlen > 0 && len > maxlen)) {
			msg_warn("queue file offset %lld: illegal length %llu, "
				 "record type %d", where(s),
				 (unsigned long long)len, type);
			skip_bytes(s, (size_t)len);
			return REC_TYPE_ERROR;
		}
		switch (read_data(s, data, (size_t)len)) {
		case -1:
			msg_warn("queue file offset %lld: %s in data, record "
				 "type %d length %llu", where(s),
				 stream_error(s) == STREAM_EOF
				 ? "unexpected end of input"
				 : stream_strerror(s), type,
				 (unsigned long long)len);
			return REC_TYPE_ERROR;
		case -2:
			msg_warn("queue file offset %lld: record type %d "
				 "length %llu does not fit the buffer",
				 where(s), type,
				 (unsigned long long)len);
			return REC_TYPE_ERROR;
		}
		if (data->data == NULL)
			strbuf_append(data, "", 0);

		if (type == REC_TYPE_PTR && (flags & REC_FLAG_FOLLOW_PTR)) {
			if (++pointers > REC_PTR_CHAIN_MAX) {
				msg_warn("queue file offset %lld: more than %d "
					 "pointer records in a row",
					 where(s), REC_PTR_CHAIN_MAX);
				forget_jumps();
				return REC_TYPE_ERROR;
			}
			if (follow_ptr(s, data, stream_tell(s)) < 0)
				return REC_TYPE_ERROR;
			continue;
		}
		if (type == REC_TYPE_DTXT && (flags & REC_FLAG_SKIP_DTXT))
			continue;
		return type;
	}
}

/* rec_put - write one record */
int
rec_put(struct stream *s, int type, const void *data, size_t len)
{
	unsigned char lenbuf[REC_LEN_BYTES_MAX];
	size_t n = 0, rest = len;
	char t;

	if (type < 0 || type > 255)
		msg_panic("rec_put: bad record type %d", type);
	if (len > REC_LEN_MAX) {
		msg_warn("rec_put: record type %d length %zu is too long",
			 type, len);
		return REC_TYPE_ERROR;
	}
	do {
		lenbuf[n] = rest & 0x7f;
		rest >>= 7;
		if (rest)
			lenbuf[n] |= 0x80;
		n++;
	} while (rest);
	t = (char)type;
	if (stream_write(s, &t, 1) < 0 || stream_write(s, lenbuf, n) < 0
	    || (len && stream_write(s, data, len) < 0) || stream_error(s))
		return REC_TYPE_ERROR;
	return type;
}

/* rec_fprintf - write one record with formatted data */
int
rec_fprintf(struct stream *s, int type, const char *fmt, ...)
{
	struct strbuf buf = STRBUF_INIT;
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = strbuf_vprintf(&buf, fmt, ap);
	va_end(ap);
	if (ret < 0)
		ret = REC_TYPE_ERROR;
	else
		ret = rec_put(s, type, strbuf_str(&buf), buf.len);
	strbuf_release(&buf);
	return ret;
}
