/* stream - buffered I/O on a descriptor with timeouts and sticky errors */
#ifndef UTIL_STREAM_H
#define UTIL_STREAM_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "util/strbuf.h"

enum stream_err {
	STREAM_OK = 0,
	STREAM_EOF,		/* peer closed */
	STREAM_TIMEOUT,		/* no progress within the time limit */
	STREAM_IOERR,		/* errno-style failure, see err_no */
};

/*
 * Transport hooks, so that TLS can sit under the same buffering.  Each
 * returns the byte count, 0 for EOF (read only), STREAM_IO_ERR for a
 * failure, or STREAM_WANT_READ / STREAM_WANT_WRITE when the descriptor
 * must become readable / writable first.
 */
#define STREAM_IO_ERR		(-1)
#define STREAM_WANT_READ	(-2)
#define STREAM_WANT_WRITE	(-3)

struct stream_ops {
	ssize_t (*read)(void *ctx, int fd, void *buf, size_t len);
	ssize_t (*write)(void *ctx, int fd, const void *buf, size_t len);
};

struct stream {
	int fd;
	const struct stream_ops *ops;
	void *ctx;		/* owned by whoever set ops */
	char *rbuf;
	size_t rpos, rlen, rcap;
	struct strbuf wbuf;
	int timeout;		/* seconds per wait; <= 0: wait forever */
	struct timespec deadline;	/* absolute, CLOCK_MONOTONIC; 0: none */
	enum stream_err err;
	int err_no;
	int read_dead;		/* reads failed: no more reads */
	int budget_on;		/* timeout is a budget for all I/O */
	long long budget_ms;	/* what is left of it */
	int min_data_rate;	/* bytes that earn one more second */
	unsigned long long bytes_in, bytes_out;
};

#define STREAM_LINE_OK		1	/* delimiter found and consumed */
#define STREAM_LINE_LONG	2	/* max bytes stored, no delimiter yet */

struct stream *stream_fdopen(int fd);
int stream_close(struct stream *s);
void stream_free(struct stream *s);
void stream_set_timeout(struct stream *s, int seconds);
void stream_set_deadline(struct stream *s, int seconds);
void stream_clear_deadline(struct stream *s);
void stream_set_budget(struct stream *s, int seconds, int min_data_rate);
void stream_clear_budget(struct stream *s);
void stream_set_ops(struct stream *s, const struct stream_ops *ops,
		    void *ctx);

int stream_getc(struct stream *s);
int stream_getdelim(struct stream *s, struct strbuf *sb, int delim,
		    size_t max);
int stream_read_exact(struct stream *s, void *buf, size_t len);
size_t stream_buffered_input(const struct stream *s);
void stream_discard_input(struct stream *s);
int stream_poll_readable(struct stream *s, int timeout_ms);

int stream_write(struct stream *s, const void *data, size_t len);
int stream_puts(struct stream *s, const char *str);
int stream_printf(struct stream *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int stream_flush(struct stream *s);
void stream_discard_output(struct stream *s);
size_t stream_buffered_output(const struct stream *s);
off_t stream_seek(struct stream *s, off_t offset);
off_t stream_tell(const struct stream *s);

/* stream_error - the first error seen, STREAM_OK if none */
static inline enum stream_err
stream_error(const struct stream *s)
{
	return s->err;
}

const char *stream_strerror(const struct stream *s);
void stream_set_error(struct stream *s, enum stream_err err, int err_no);

static inline int
stream_fd(const struct stream *s)
{
	return s->fd;
}

#endif
