/*
 * testlib - helpers shared by the global/ unit tests
 *
 * fixture_load() reads a file from tests/fixtures ($POSTERN_FIXTURES, or
 *	the directory beside tests/unit found from __FILE__).
 * mem_stream() makes a readable, seekable stream holding given bytes (an
 *	unlinked temporary file).
 * out_stream()/out_bytes() make an empty stream to write to and read
 *	back what was flushed to it.
 * warn_begin()/warn_end() capture the msg_warn() lines logged in between
 *	(msg's stderr output, redirected to a temporary file).
 */
#ifndef TESTS_UNIT_GLOBAL_TESTLIB_H
#define TESTS_UNIT_GLOBAL_TESTLIB_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/msg.h"
#include "util/stream.h"
#include "util/xmalloc.h"

/* tmp_fd - an unlinked read/write temporary file */
static inline int
tmp_fd(void)
{
	const char *dir = getenv("TMPDIR");
	char *path = xasprintf("%s/postern-test-XXXXXX", dir ? dir : "/tmp");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	free(path);
	return fd;
}

/* fixture_path - the full name of a fixture file (caller frees) */
static inline char *
fixture_path(const char *name)
{
	const char *dir = getenv("POSTERN_FIXTURES");
	const char *here = __FILE__;
	const char *cut = strstr(here, "unit/global/testlib.h");

	if (dir && *dir)
		return xasprintf("%s/%s", dir, name);
	/* __FILE__ is tests/unit/global/testlib.h relative to the Makefile */
	return xasprintf("%.*sfixtures/%s", (int)(cut - here), here, name);
}

/* fixture_load - a fixture's bytes (caller frees), its size in *len */
static inline unsigned char *
fixture_load(const char *name, size_t *len)
{
	char *path = fixture_path(name);
	FILE *fp = fopen(path, "rb");
	unsigned char *buf;
	struct stat st;

	if (fp == NULL)
		fail_msg("cannot open fixture %s", path);
	assert_int_equal(fstat(fileno(fp), &st), 0);
	buf = xmalloc((size_t)st.st_size + 1);
	assert_int_equal(fread(buf, 1, (size_t)st.st_size, fp),
			 (size_t)st.st_size);
	fclose(fp);
	free(path);
	buf[st.st_size] = 0;
	*len = (size_t)st.st_size;
	return buf;
}

/* write_all - write len bytes at the current position */
static inline void
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

/* mem_stream - a seekable stream positioned at the start of data */
static inline struct stream *
mem_stream(const void *data, size_t len)
{
	int fd = tmp_fd();

	write_all(fd, data, len);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return stream_fdopen(fd);
}

/* fixture_stream - a stream on a copy of a fixture */
static inline struct stream *
fixture_stream(const char *name)
{
	size_t len;
	unsigned char *data = fixture_load(name, &len);
	struct stream *s = mem_stream(data, len);

	free(data);
	return s;
}

/* out_stream - an empty stream to write to */
static inline struct stream *
out_stream(void)
{
	return stream_fdopen(tmp_fd());
}

/* out_bytes - flush s and return everything written to it (caller frees) */
static inline unsigned char *
out_bytes(struct stream *s, size_t *len)
{
	off_t end;
	unsigned char *buf;

	assert_int_equal(stream_flush(s), 0);
	end = lseek(stream_fd(s), 0, SEEK_END);
	assert_true(end >= 0);
	buf = xmalloc((size_t)end + 1);
	assert_int_equal(pread(stream_fd(s), buf, (size_t)end, 0), end);
	*len = (size_t)end;
	return buf;
}

/* assert_bytes_equal - compare bytes, showing the first difference */
static inline void
assert_bytes_equal(const unsigned char *got, size_t got_len,
		   const unsigned char *want, size_t want_len)
{
	size_t i;

	for (i = 0; i < got_len && i < want_len; i++)
		if (got[i] != want[i])
			fail_msg("byte %zu differs: got 0x%02x, want 0x%02x",
				 i, got[i], want[i]);
	assert_int_equal(got_len, want_len);
}

static int warn_saved_fd = -1;
static int warn_tmp_fd = -1;

/* warn_begin - start capturing warnings */
static inline void
warn_begin(void)
{
	fflush(stderr);
	warn_tmp_fd = tmp_fd();
	warn_saved_fd = dup(2);
	assert_true(warn_saved_fd >= 0);
	assert_true(dup2(warn_tmp_fd, 2) == 2);
	msg_stderr_enable(1);
}

/* warn_end - stop capturing; the captured text (caller frees) */
static inline char *
warn_end(void)
{
	size_t len;
	char *text;

	fflush(stderr);
	msg_stderr_enable(0);
	assert_true(dup2(warn_saved_fd, 2) == 2);
	close(warn_saved_fd);
	len = (size_t)lseek(warn_tmp_fd, 0, SEEK_END);
	text = xmalloc(len + 1);
	assert_int_equal(pread(warn_tmp_fd, text, len, 0), (ssize_t)len);
	text[len] = 0;
	close(warn_tmp_fd);
	warn_saved_fd = warn_tmp_fd = -1;
	return text;
}

/* count_of - occurrences of needle in text */
static inline int
count_of(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* assert_one_warning - exactly one warning, containing want */
#define assert_one_warning(text, want) do { \
	if (count_of((text), "warning: ") != 1 \
	    || strstr((text), (want)) == NULL) \
		fail_msg("want one warning with \"%s\", got: %s", \
			 (want), (text)); \
} while (0)

#endif
