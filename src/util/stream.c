/*
 * stream - buffered I/O on a descriptor with timeouts and sticky errors
 *
 * A stream owns a non-blocking descriptor, an input buffer and an output
 * buffer.  Every wait is bounded by the per-operation timeout and by an
 * optional absolute deadline, whichever comes first.  The first error
 * (EOF, timeout, I/O error) sticks: later reads return EOF and later
 * writes do nothing, so protocol code may check once after a flush or
 * after reading a reply instead of after every call.
 *
 * stream_getdelim() appends to a strbuf up to a delimiter (consumed, not
 * stored) or up to max bytes; stream_read_exact() reads a fixed amount.
 * Output is buffered until stream_flush() or until the buffer is large.
 * TLS plugs in with stream_set_ops().
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdarg.h>

#include "util/stream.h"
#include "util/xmalloc.h"

#define STREAM_BUFSIZE	(64 * 1024)

/* plain_read - read(2) as a stream hook */
static ssize_t
plain_read(void *ctx, int fd, void *buf, size_t len)
{
	ssize_t n = read(fd, buf, len);

	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK
			|| errno == EINTR) ? STREAM_WANT_READ : STREAM_IO_ERR;
	return n;
}

/* plain_write - write(2) as a stream hook */
static ssize_t
plain_write(void *ctx, int fd, const void *buf, size_t len)
{
	ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

	if (n < 0 && errno == ENOTSOCK)
		n = write(fd, buf, len);
	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK
			|| errno == EINTR) ? STREAM_WANT_WRITE : STREAM_IO_ERR;
	return n;
}

static const struct stream_ops plain_ops = { plain_read, plain_write };

/* stream_fdopen - wrap a descriptor; it is made non-blocking */
struct stream *
stream_fdopen(int fd)
{
	struct stream *s = xcalloc(1, sizeof(*s));
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0 && !(fl & O_NONBLOCK))
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	s->fd = fd;
	s->ops = &plain_ops;
	s->rcap = STREAM_BUFSIZE;
	s->rbuf = xmalloc(s->rcap);
	strbuf_init(&s->wbuf, 0);
	return s;
}

/* stream_free - release the stream but leave the descriptor open */
void
stream_free(struct stream *s)
{
	if (s == NULL)
		return;
	free(s->rbuf);
	strbuf_release(&s->wbuf);
	free(s);
}

/* stream_close - flush nothing, close the descriptor, free the stream */
int
stream_close(struct stream *s)
{
	int ret;

	if (s == NULL)
		return 0;
	ret = close(s->fd);
	stream_free(s);
	return ret;
}

void
stream_set_timeout(struct stream *s, int seconds)
{
	s->timeout = seconds;
}

/* stream_set_deadline - no wait may end later than seconds from now */
void
stream_set_deadline(struct stream *s, int seconds)
{
	clock_gettime(CLOCK_MONOTONIC, &s->deadline);
	s->deadline.tv_sec += seconds;
}

void
stream_clear_deadline(struct stream *s)
{
	s->deadline.tv_sec = 0;
	s->deadline.tv_nsec = 0;
}

/*
 * stream_set_budget - from now on "timeout" is a budget for the total time
 * spent waiting in reads and writes (Postfix's per-request deadline), and
 * every min_data_rate bytes transferred earn one more second, never more
 * than the full timeout (0: no such credit).
 */
void
stream_set_budget(struct stream *s, int seconds, int min_data_rate)
{
	s->timeout = seconds;
	s->budget_on = 1;
	s->budget_ms = (long long)seconds * 1000;
	s->min_data_rate = min_data_rate;
}

/* stream_clear_budget - back to a time limit per read or write */
void
stream_clear_budget(struct stream *s)
{
	s->budget_on = 0;
	s->min_data_rate = 0;
}

/* now_ms - monotonic milliseconds */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* charge - bill elapsed time to the budget, credit transferred bytes */
static void
charge(struct stream *s, long long started, size_t bytes)
{
	if (!s->budget_on)
		return;
	s->budget_ms -= now_ms() - started;
	if (s->min_data_rate > 0 && bytes > 0) {
		s->budget_ms += (long long)bytes * 1000 / s->min_data_rate;
		if (s->budget_ms > (long long)s->timeout * 1000)
			s->budget_ms = (long long)s->timeout * 1000;
	}
}

void
stream_set_ops(struct stream *s, const struct stream_ops *ops, void *ctx)
{
	s->ops = ops ? ops : &plain_ops;
	s->ctx = ctx;
}

/* stream_set_error - record the first error only */
void
stream_set_error(struct stream *s, enum stream_err err, int err_no)
{
	if (s->err == STREAM_OK) {
		s->err = err;
		s->err_no = err_no;
	}
}

/* stream_strerror - text for the sticky error */
const char *
stream_strerror(const struct stream *s)
{
	switch (s->err) {
	case STREAM_OK:
		return "no error";
	case STREAM_EOF:
		return "lost connection";
	case STREAM_TIMEOUT:
		return "timeout";
	case STREAM_IOERR:
		return s->err_no ? strerror(s->err_no) : "I/O error";
	}
	return "unknown error";
}

/* wait_ms - milliseconds this wait may last, -1 for ever, 0 if expired */
static int
wait_ms(const struct stream *s)
{
	long long ms = s->timeout > 0 ? (long long)s->timeout * 1000 : -1;

	if (s->budget_on)
		ms = s->budget_ms > 0 ? s->budget_ms : 0;

	if (s->deadline.tv_sec) {
		struct timespec now;
		long long left;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (s->deadline.tv_sec - now.tv_sec) * 1000LL
		    + (s->deadline.tv_nsec - now.tv_nsec) / 1000000;
		if (left < 0)
			left = 0;
		if (ms < 0 || left < ms)
			ms = left;
	}
	return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

/* wait_for - wait until fd is ready for events; 0 ok, -1 error set */
static int
wait_for(struct stream *s, short events)
{
	struct pollfd pfd;
	int n;

	for (;;) {
		int ms = wait_ms(s);

		pfd.fd = s->fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, ms);
		if (n > 0)
			return 0;
		if (n == 0) {
			stream_set_error(s, STREAM_TIMEOUT, ETIMEDOUT);
			return -1;
		}
		if (errno != EINTR) {
			stream_set_error(s, STREAM_IOERR, errno);
			return -1;
		}
	}
}

/* fill - read more input; returns bytes read, 0 on EOF/error */
static size_t
fill(struct stream *s)
{
	long long started;
	ssize_t n;

	/*
	 * A failed write does not stop reads: the server may have explained
	 * itself (e.g. 421) before it closed the connection.
	 */
	if (s->read_dead)
		return 0;
	if (s->rpos == s->rlen)
		s->rpos = s->rlen = 0;
	started = now_ms();
	for (;;) {
		n = s->ops->read(s->ctx, s->fd, s->rbuf + s->rlen,
				 s->rcap - s->rlen);
		if (n > 0) {
			s->rlen += (size_t)n;
			s->bytes_in += (unsigned long long)n;
			charge(s, started, (size_t)n);
			return (size_t)n;
		}
		if (n == 0) {
			stream_set_error(s, STREAM_EOF, 0);
			s->read_dead = 1;
			return 0;
		}
		if (n == STREAM_IO_ERR) {
			stream_set_error(s, STREAM_IOERR, errno);
			s->read_dead = 1;
			return 0;
		}
		if (wait_for(s, n == STREAM_WANT_WRITE ? POLLOUT : POLLIN) < 0) {
			s->read_dead = 1;
			return 0;
		}
	}
}

/* stream_discard_input - forget what was read but not consumed */
void
stream_discard_input(struct stream *s)
{
	s->rpos = s->rlen = 0;
}

/* stream_getc - one byte, or -1 */
int
stream_getc(struct stream *s)
{
	if (s->rpos == s->rlen && fill(s) == 0)
		return -1;
	return (unsigned char)s->rbuf[s->rpos++];
}

/* stream_getdelim - append bytes up to delim (consumed, not stored) */
int
stream_getdelim(struct stream *s, struct strbuf *sb, int delim, size_t max)
{
	size_t stored = 0;

	for (;;) {
		char *start, *hit;
		size_t avail, take;

		if (s->rpos == s->rlen && fill(s) == 0)
			return 0;
		start = s->rbuf + s->rpos;
		avail = s->rlen - s->rpos;
		hit = memchr(start, delim, avail);
		take = hit ? (size_t)(hit - start) : avail;
		if (take > max - stored)
			take = max - stored;
		if (strbuf_append(sb, start, take) < 0)
			return STREAM_LINE_LONG;
		stored += take;
		s->rpos += take;
		if (hit && start + take == hit) {
			s->rpos++;
			return STREAM_LINE_OK;
		}
		if (stored >= max) {
			/* Exactly max bytes may still be followed by delim. */
			if (s->rpos == s->rlen && fill(s) == 0) {
				if (s->err == STREAM_EOF) {
					/* report the EOF on the next call */
					s->err = STREAM_OK;
					s->read_dead = 0;
				}
				return STREAM_LINE_LONG;
			}
			if (s->rbuf[s->rpos] == delim) {
				s->rpos++;
				return STREAM_LINE_OK;
			}
			return STREAM_LINE_LONG;
		}
	}
}

/* stream_read_exact - read len bytes; 0 ok, -1 short */
int
stream_read_exact(struct stream *s, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		size_t take;

		if (s->rpos == s->rlen && fill(s) == 0)
			return -1;
		take = s->rlen - s->rpos;
		if (take > len)
			take = len;
		memcpy(p, s->rbuf + s->rpos, take);
		s->rpos += take;
		p += take;
		len -= take;
	}
	return 0;
}

/* stream_buffered_input - bytes already read but not consumed */
size_t
stream_buffered_input(const struct stream *s)
{
	return s->rlen - s->rpos;
}

/* stream_poll_readable - 1 if input is available within timeout_ms */
int
stream_poll_readable(struct stream *s, int timeout_ms)
{
	struct pollfd pfd;

	if (stream_buffered_input(s))
		return 1;
	pfd.fd = s->fd;
	pfd.events = POLLIN;
	return poll(&pfd, 1, timeout_ms) > 0;
}

/* stream_flush - write all buffered output; 0 ok, -1 error */
int
stream_flush(struct stream *s)
{
	size_t done = 0;

	if (s->err) {
		strbuf_reset(&s->wbuf);
		return -1;
	}
	while (done < s->wbuf.len) {
		long long started = now_ms();
		ssize_t n;

		if (s->budget_on && s->budget_ms <= 0) {
			stream_set_error(s, STREAM_TIMEOUT, ETIMEDOUT);
			break;
		}
		n = s->ops->write(s->ctx, s->fd, s->wbuf.data + done,
				  s->wbuf.len - done);
		if (n > 0) {
			done += (size_t)n;
			s->bytes_out += (unsigned long long)n;
			charge(s, started, (size_t)n);
			continue;
		}
		if (n == STREAM_IO_ERR || n == 0) {
			stream_set_error(s, errno == EPIPE || errno == ECONNRESET
					 ? STREAM_EOF : STREAM_IOERR, errno);
			break;
		}
		if (wait_for(s, n == STREAM_WANT_READ ? POLLIN : POLLOUT) < 0)
			break;
	}
	strbuf_reset(&s->wbuf);
	return s->err ? -1 : 0;
}

/* stream_write - buffer output, flushing when the buffer is large */
int
stream_write(struct stream *s, const void *data, size_t len)
{
	if (s->err)
		return -1;
	strbuf_append(&s->wbuf, data, len);
	if (s->wbuf.len >= STREAM_BUFSIZE)
		return stream_flush(s);
	return 0;
}

int
stream_puts(struct stream *s, const char *str)
{
	return stream_write(s, str, strlen(str));
}

int
stream_printf(struct stream *s, const char *fmt, ...)
{
	va_list ap;
	int ret;

	if (s->err)
		return -1;
	va_start(ap, fmt);
	ret = strbuf_vprintf(&s->wbuf, fmt, ap);
	va_end(ap);
	if (ret == 0 && s->wbuf.len >= STREAM_BUFSIZE)
		return stream_flush(s);
	return ret;
}

/* stream_discard_output - drop unflushed output (aborted session) */
void
stream_discard_output(struct stream *s)
{
	strbuf_reset(&s->wbuf);
}

size_t
stream_buffered_output(const struct stream *s)
{
	return s->wbuf.len;
}

/* stream_seek - reposition a file stream; drops buffered I/O.  -1 error */
off_t
stream_seek(struct stream *s, off_t offset)
{
	off_t ret;

	if (s->wbuf.len && stream_flush(s) < 0)
		return -1;
	s->rpos = s->rlen = 0;
	if ((ret = lseek(s->fd, offset, SEEK_SET)) < 0)
		stream_set_error(s, STREAM_IOERR, errno);
	else if (s->err == STREAM_EOF) {
		s->err = STREAM_OK;	/* EOF is not sticky across a seek */
		s->err_no = 0;
		s->read_dead = 0;
	}
	return ret;
}

/* stream_tell - the read position of a file stream */
off_t
stream_tell(const struct stream *s)
{
	off_t pos = lseek(s->fd, 0, SEEK_CUR);

	return pos < 0 ? pos : pos - (off_t)(s->rlen - s->rpos);
}
