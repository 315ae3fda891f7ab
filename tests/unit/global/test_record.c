/*
 * test_record - unit tests for global/record: queue file records
 *
 * The reader walks the queue files Postfix 3.7's cleanup(8) wrote
 * (tests/fixtures/queuefile-*.bin) and the writer reproduces them byte for
 * byte.  Pointer and padding records, which those files lack, are tested
 * on files built here.  Truncated, over-long and looping input must give
 * REC_TYPE_ERROR with one warning, never a crash or a hang.
 */
#include "testlib.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>

#include "global/record.h"
#include "util/strbuf.h"

#define M1	"queuefile-m1-pristine.bin"
#define M2	"queuefile-m2-after-partial-delivery.bin"
#define M6	"queuefile-m6-lmtp-after-partial.bin"

/* The records of M1, as the capture shows them. */
static const struct {
	int type;
	long offset;
	size_t len;
} m1_records[] = {
	{'C', 0, 95}, {'T', 97, 17}, {'A', 116, 22}, {'A', 140, 21},
	{'F', 163, 4}, {'S', 169, 16}, {'A', 187, 34}, {'O', 223, 13},
	{'R', 238, 13}, {'M', 253, 0}, {'N', 255, 49}, {'N', 306, 54},
	{'N', 362, 31}, {'N', 395, 17}, {'N', 414, 26}, {'N', 442, 28},
	{'N', 472, 43}, {'N', 517, 0}, {'N', 519, 33}, {'L', 554, 2048},
	{'L', 2605, 2048}, {'N', 4656, 904}, {'N', 5563, 17}, {'N', 5582, 9},
	{'X', 5593, 0}, {'E', 5595, 0},
};
#define M1_COUNT	(sizeof(m1_records) / sizeof(m1_records[0]))
#define M1_SIZE		5597

/* test_m1_records - every record of a pristine queue file */
static void
test_m1_records(void **state)
{
	struct stream *s = fixture_stream(M1);
	struct strbuf rec = STRBUF_INIT;
	struct strbuf line = STRBUF_INIT;
	char want_c[128];

	for (size_t i = 0; i < M1_COUNT; i++) {
		assert_int_equal(stream_tell(s), m1_records[i].offset);
		assert_int_equal(rec_get(s, &rec, 0, REC_FLAG_DEFAULT),
				 m1_records[i].type);
		assert_int_equal(rec.len, m1_records[i].len);
		assert_non_null(rec.data);
		assert_int_equal(rec.data[rec.len], 0);
		switch (i) {
		case 0:
			snprintf(want_c, sizeof(want_c),
				 "%15ld %15ld %15ld %15ld %15ld %15ld",
				 5338L, 255L, 1L, 0L, 5338L, 0L);
			assert_string_equal(rec.data, want_c);
			break;
		case 1:
			assert_string_equal(rec.data, "1795605178 616335");
			break;
		case 2:
			assert_string_equal(rec.data, "create_time=1795605178");
			break;
		case 5:
			assert_string_equal(rec.data, "from@client.test");
			break;
		case 6:
			assert_string_equal(rec.data, "dsn_orig_rcpt="
					    "rfc822;ok1@dest.test");
			break;
		case 8:
			assert_string_equal(rec.data, "ok1@dest.test");
			break;
		case 10:
			assert_string_equal(rec.data, "Received: by "
					    "client.test (Postfix, "
					    "from userid 0)");
			break;
		case 19: case 20: case 21:
			/* the 5000-byte line: L 2048 + L 2048 + N 904 */
			strbuf_append(&line, rec.data, rec.len);
			break;
		case 22:
			assert_string_equal(rec.data, ".leading dot line");
			break;
		}
	}
	assert_int_equal(line.len, 5000);
	for (size_t i = 0; i < line.len; i++)
		assert_int_equal(line.data[i], 'L');
	assert_int_equal(stream_tell(s), M1_SIZE);
	assert_int_equal(rec_get(s, &rec, 0, REC_FLAG_DEFAULT), REC_TYPE_EOF);
	assert_int_equal(rec_get(s, &rec, 0, REC_FLAG_DEFAULT), REC_TYPE_EOF);
	assert_int_equal(rec.len, 0);
	strbuf_release(&rec);
	strbuf_release(&line);
	stream_close(s);
}

/* copy_records - read every record of a fixture and write it again */
static void
copy_records(const char *fixture)
{
	struct stream *in = fixture_stream(fixture);
	struct stream *out = out_stream();
	struct strbuf rec = STRBUF_INIT;
	size_t want_len, got_len;
	unsigned char *want = fixture_load(fixture, &want_len);
	unsigned char *got;
	int type;

	while ((type = rec_get(in, &rec, 0, REC_FLAG_NONE)) > 0)
		assert_int_equal(rec_put(out, type, rec.data, rec.len), type);
	assert_int_equal(type, REC_TYPE_EOF);
	got = out_bytes(out, &got_len);
	assert_bytes_equal(got, got_len, want, want_len);
	free(got);
	free(want);
	strbuf_release(&rec);
	stream_close(in);
	stream_close(out);
}

/* test_rewrite_exact - the writer reproduces cleanup's files */
static void
test_rewrite_exact(void **state)
{
	struct stream *out = out_stream();
	size_t want_len, got_len;
	unsigned char *want = fixture_load(M1, &want_len);
	unsigned char *got;

	copy_records(M1);
	copy_records(M2);
	copy_records(M6);

	/* the size record, formatted as cleanup formats it */
	assert_int_equal(rec_fprintf(out, REC_TYPE_SIZE,
				     "%15ld %15ld %15ld %15ld %15ld %15ld",
				     5338L, 255L, 1L, 0L, 5338L, 0L),
			 REC_TYPE_SIZE);
	assert_int_equal(rec_fprintf(out, REC_TYPE_TIME, "%ld %ld",
				     1795605178L, 616335L), REC_TYPE_TIME);
	got = out_bytes(out, &got_len);
	assert_bytes_equal(got, got_len, want, 116);
	free(got);
	free(want);
	stream_close(out);
}

/* test_m2_content - from the request's offset to X; recipient marks */
static void
test_m2_content(void **state)
{
	static const struct {
		const char *file;
		long offset;
		int type;
		const char *addr;
	} marks[] = {
		{M2, 238, REC_TYPE_DONE, "ok2@dest.test"},
		{M2, 308, REC_TYPE_DONE, "hard1@dest.test"},
		{M2, 380, REC_TYPE_RCPT, "soft1@dest.test"},
		{M6, 236, REC_TYPE_DONE, "a6@lmtp.test"},
		{M6, 307, REC_TYPE_RCPT, "lsoft6@lmtp.test"},
	};
	struct stream *s = fixture_stream(M2);
	struct strbuf rec = STRBUF_INIT;
	int type, lines = 0;

	assert_int_equal(stream_seek(s, 399), 399);
	while ((type = rec_get(s, &rec, 0, REC_FLAG_DEFAULT)) == REC_TYPE_NORM)
		lines++;
	assert_int_equal(type, REC_TYPE_XTRA);
	assert_int_equal(lines, 8);
	assert_string_equal(strbuf_str(&rec), "");
	stream_close(s);

	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		s = fixture_stream(marks[i].file);
		assert_int_equal(stream_seek(s, marks[i].offset),
				 marks[i].offset);
		assert_int_equal(rec_get(s, &rec, 0, REC_FLAG_DEFAULT),
				 marks[i].type);
		assert_string_equal(rec.data, marks[i].addr);
		stream_close(s);
	}
	strbuf_release(&rec);
}

/* test_length_encoding - 7-bit groups, least significant first */
static void
test_length_encoding(void **state)
{
	static const struct {
		size_t len;
		unsigned char bytes[5];
		size_t n;
	} cases[] = {
		{0, {0x00}, 1}, {1, {0x01}, 1}, {127, {0x7f}, 1},
		{128, {0x80, 0x01}, 2}, {129, {0x81, 0x01}, 2},
		{2048, {0x80, 0x10}, 2}, {16383, {0xff, 0x7f}, 2},
		{16384, {0x80, 0x80, 0x01}, 3},
		{2097151, {0xff, 0xff, 0x7f}, 3},
		{2097152, {0x80, 0x80, 0x80, 0x01}, 4},
	};
	char *data = xmalloc(2097152);
	struct strbuf rec = STRBUF_INIT;

	memset(data, 'd', 2097152);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct stream *s = out_stream();
		size_t got_len;
		unsigned char *got;

		assert_int_equal(rec_put(s, REC_TYPE_NORM, data, cases[i].len),
				 REC_TYPE_NORM);
		got = out_bytes(s, &got_len);
		assert_int_equal(got_len, 1 + cases[i].n + cases[i].len);
		assert_int_equal(got[0], 'N');
		assert_memory_equal(got + 1, cases[i].bytes, cases[i].n);
		assert_int_equal(stream_seek(s, 0), 0);
		assert_int_equal(rec_get(s, &rec, 0, REC_FLAG_DEFAULT),
				 REC_TYPE_NORM);
		assert_int_equal(rec.len, cases[i].len);
		assert_memory_equal(rec.data, data, rec.len);
		assert_int_equal(rec_get(s, &rec, 0, 0), REC_TYPE_EOF);
		free(got);
		stream_close(s);
	}
	free(data);
	strbuf_release(&rec);
}

/* test_put_errors - what the writer refuses */
static void
test_put_errors(void **state)
{
	struct stream *s = out_stream();
	char *text;

	/* too long for a Postfix length: refused before touching the data */
	warn_begin();
	assert_int_equal(rec_put(s, REC_TYPE_NORM, "",
				 (size_t)INT_MAX + 1), REC_TYPE_ERROR);
	text = warn_end();
	assert_one_warning(text, "too long");
	free(text);
	assert_int_equal(stream_buffered_output(s), 0);

	/* type bytes 0 and 255 are just bytes */
	assert_int_equal(rec_put(s, 0, "a", 1), 0);
	assert_int_equal(rec_put(s, 255, "b", 1), 255);
	assert_int_equal(stream_seek(s, 0), 0);
	{
		struct strbuf rec = STRBUF_INIT;

		assert_int_equal(rec_get(s, &rec, 0, REC_FLAG_DEFAULT), 0);
		assert_int_equal(rec_get(s, &rec, 0, REC_FLAG_DEFAULT), 255);
		assert_string_equal(rec.data, "b");
		strbuf_release(&rec);
	}

	/* a failed stream: the error is reported */
	stream_set_error(s, STREAM_IOERR, EBADF);
	assert_int_equal(rec_put(s, REC_TYPE_NORM, "x", 1), REC_TYPE_ERROR);
	assert_int_equal(rec_fprintf(s, REC_TYPE_NORM, "%d", 1),
			 REC_TYPE_ERROR);
	stream_close(s);
}

/* ptr_file - a file with a header-insertion pointer, as cleanup makes */
static struct stream *
ptr_file(long *placeholder, long *body)
{
	struct stream *s = out_stream();

	rec_put(s, REC_TYPE_MESG, "", 0);
	rec_fprintf(s, REC_TYPE_NORM, "%s", "Subject: one");
	assert_int_equal(stream_flush(s), 0);
	*placeholder = (long)stream_tell(s);
	/* cleanup's placeholder: a pointer to 0, i.e. nowhere (yet) */
	rec_fprintf(s, REC_TYPE_PTR, "%15ld", 0L);
	rec_put(s, REC_TYPE_DTXT, "padding", 7);
	assert_int_equal(stream_flush(s), 0);
	*body = (long)stream_tell(s);
	rec_fprintf(s, REC_TYPE_NORM, "%s", "");
	rec_fprintf(s, REC_TYPE_NORM, "%s", "body");
	rec_put(s, REC_TYPE_XTRA, "", 0);
	rec_put(s, REC_TYPE_END, "", 0);
	assert_int_equal(stream_flush(s), 0);
	return s;
}

/* read_types - the types rec_get returns up to E, as a string */
static char *
read_types(struct stream *s, int flags, struct strbuf *texts)
{
	struct strbuf rec = STRBUF_INIT;
	struct strbuf types = STRBUF_INIT;
	int type;

	strbuf_reset(texts);
	assert_int_equal(stream_seek(s, 0), 0);
	do {
		type = rec_get(s, &rec, 0, flags);
		assert_true(type >= 0);
		strbuf_putc(&types, type);
		if (type == REC_TYPE_NORM)
			strbuf_printf(texts, "[%s]", rec.data);
	} while (type != REC_TYPE_END);
	strbuf_release(&rec);
	return strbuf_take(&types);
}

/* test_pointer - placeholder, insertion, padding, and the flags */
static void
test_pointer(void **state)
{
	struct strbuf texts = STRBUF_INIT;
	long placeholder, body, added, back;
	struct stream *s = ptr_file(&placeholder, &body);
	char *types;

	/* a pointer to 0 is a placeholder: reading just goes on */
	types = read_types(s, REC_FLAG_DEFAULT, &texts);
	assert_string_equal(types, "MNNNXE");
	assert_string_equal(texts.data, "[Subject: one][][body]");
	free(types);

	/* insert a header: append it at the end, point there and back */
	added = (long)lseek(stream_fd(s), 0, SEEK_END);
	assert_int_equal(stream_seek(s, added), added);
	rec_fprintf(s, REC_TYPE_NORM, "%s", "X-Added: two");
	rec_put(s, REC_TYPE_DTXT, "more padding", 12);
	rec_fprintf(s, REC_TYPE_NORM, "%s", "X-Added: three");
	assert_int_equal(stream_flush(s), 0);
	back = (long)stream_tell(s);
	rec_fprintf(s, REC_TYPE_PTR, "%15ld", body);
	assert_int_equal(stream_seek(s, placeholder), placeholder);
	rec_fprintf(s, REC_TYPE_PTR, "%15ld", added);
	assert_int_equal(stream_flush(s), 0);

	types = read_types(s, REC_FLAG_DEFAULT, &texts);
	assert_string_equal(types, "MNNNNNXE");
	assert_string_equal(texts.data, "[Subject: one][X-Added: two]"
			    "[X-Added: three][][body]");
	free(types);

	/* follow pointers, keep padding */
	types = read_types(s, REC_FLAG_FOLLOW_PTR, &texts);
	assert_string_equal(types, "MNNwNNNXE");
	free(types);

	/* raw: the pointer and padding records themselves */
	types = read_types(s, REC_FLAG_NONE, &texts);
	assert_string_equal(types, "MNpwNNXE");
	free(types);
	types = read_types(s, REC_FLAG_SKIP_DTXT, &texts);
	assert_string_equal(types, "MNpNNXE");
	free(types);

	/* the pointer record's data is the "%15ld" offset */
	{
		struct strbuf rec = STRBUF_INIT;
		char want[32];

		assert_int_equal(stream_seek(s, back), back);
		assert_int_equal(rec_get(s, &rec, 0, REC_FLAG_NONE),
				 REC_TYPE_PTR);
		snprintf(want, sizeof(want), "%15ld", body);
		assert_string_equal(rec.data, want);
		assert_int_equal(rec.len, 15);
		strbuf_release(&rec);
	}
	strbuf_release(&texts);
	stream_close(s);
}

/* one_record_error - rec_get on these bytes: one error, one warning */
static void
one_record_error(const void *bytes, size_t len, size_t maxlen, int flags,
		 const char *want)
{
	struct stream *s = mem_stream(bytes, len);
	struct strbuf rec = STRBUF_INIT;
	char *text;

	warn_begin();
	assert_int_equal(rec_get(s, &rec, maxlen, flags), REC_TYPE_ERROR);
	text = warn_end();
	assert_one_warning(text, want);
	free(text);
	strbuf_release(&rec);
	stream_close(s);
}

/* test_bad_pointer - pointer values that are not offsets */
static void
test_bad_pointer(void **state)
{
	static const char *const bad[] = {
		"", "   ", "abc", "-5", "+5", "12 ", "1 2", "0x10", "5\n",
		"99999999999999999999999999",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char bytes[64];
		size_t n = strlen(bad[i]);

		bytes[0] = 'p';
		bytes[1] = (char)n;
		memcpy(bytes + 2, bad[i], n);
		one_record_error(bytes, n + 2, 0, REC_FLAG_DEFAULT,
				 "pointer record value");
	}
	/* a NUL inside the value */
	one_record_error("p\003" "1\0" "2", 5, 0, REC_FLAG_DEFAULT,
			 "malformed pointer record value");
}

/* test_pointer_pipe - a pointer on a stream that cannot seek */
static void
test_pointer_pipe(void **state)
{
	struct stream *s;
	struct strbuf rec = STRBUF_INIT;
	size_t len;
	unsigned char *m1 = fixture_load(M1, &len);
	int fds[2], type, count = 0;
	char *text;

	/* records arrive fine through a pipe */
	assert_int_equal(pipe(fds), 0);
	write_all(fds[1], m1, len);
	close(fds[1]);
	s = stream_fdopen(fds[0]);
	while ((type = rec_get(s, &rec, 0, REC_FLAG_DEFAULT)) > 0)
		count++;
	assert_int_equal(type, REC_TYPE_EOF);
	assert_int_equal(count, M1_COUNT);
	stream_close(s);

	/* but a pointer cannot be followed */
	assert_int_equal(pipe(fds), 0);
	write_all(fds[1], "p\017            100", 17);
	close(fds[1]);
	s = stream_fdopen(fds[0]);
	warn_begin();
	assert_int_equal(rec_get(s, &rec, 0, REC_FLAG_DEFAULT),
			 REC_TYPE_ERROR);
	text = warn_end();
	assert_one_warning(text, "seek to 100 after pointer record");
	free(text);
	stream_close(s);
	strbuf_release(&rec);
	free(m1);
}

/* test_pointer_loop_self - a pointer to itself stops with an error */
static void
test_pointer_loop_self(void **state)
{
	struct stream *s = out_stream();
	struct strbuf rec = STRBUF_INIT;
	char *text;

	rec_fprintf(s, REC_TYPE_NORM, "%s", "a");
	rec_fprintf(s, REC_TYPE_PTR, "%15ld", 3L);
	assert_int_equal(stream_seek(s, 0), 0);
	assert_int_equal(rec_get(s, &rec, 0, REC_FLAG_DEFAULT),
			 REC_TYPE_NORM);
	warn_begin();
	assert_int_equal(rec_get(s, &rec, 0, REC_FLAG_DEFAULT),
			 REC_TYPE_ERROR);
	text = warn_end();
	assert_one_warning(text, "pointer");
	free(text);
	strbuf_release(&rec);
	stream_close(s);
}

/* test_pointer_loop_records - a loop through a normal record, too */
static void
test_pointer_loop_records(void **state)
{
	struct stream *s = out_stream();
	struct strbuf rec = STRBUF_INIT;
	int type, xs = 0;
	char *text;

	rec_fprintf(s, REC_TYPE_NORM, "%s", "a");	/* offset 0 */
	rec_fprintf(s, REC_TYPE_NORM, "%s", "x");	/* offset 3 */
	rec_fprintf(s, REC_TYPE_PTR, "%15ld", 3L);	/* offset 6 */
	assert_int_equal(stream_seek(s, 0), 0);
	assert_int_equal(rec_get(s, &rec, 0, REC_FLAG_DEFAULT),
			 REC_TYPE_NORM);
	warn_begin();
	while ((type = rec_get(s, &rec, 0, REC_FLAG_DEFAULT)) == REC_TYPE_NORM
	       && xs < 20000) {
		assert_string_equal(rec.data, "x");
		xs++;
	}
	text = warn_end();
	assert_int_equal(type, REC_TYPE_ERROR);
	/* the first x, then one per reverse jump, up to 10000 jumps */
	assert_int_equal(xs, 10001);
	assert_one_warning(text, "reverse pointer jumps");
	free(text);
	strbuf_release(&rec);
	stream_close(s);
}

/* test_truncated - every prefix of M1 ends in EOF or in one error */
static void
test_truncated(void **state)
{
	size_t len;
	unsigned char *m1 = fixture_load(M1, &len);
	struct strbuf rec = STRBUF_INIT;
	int fd = tmp_fd();

	assert_int_equal(len, M1_SIZE);
	for (size_t cut = 0; cut < len; cut++) {
		struct stream *s;
		int boundary = 0, type, count = 0;
		char *text;

		for (size_t i = 0; i < M1_COUNT; i++)
			if ((size_t)m1_records[i].offset == cut)
				boundary = 1;
		assert_int_equal(ftruncate(fd, 0), 0);
		assert_int_equal(pwrite(fd, m1, cut, 0), (ssize_t)cut);
		assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
		s = stream_fdopen(fd);
		warn_begin();
		while ((type = rec_get(s, &rec, 0, REC_FLAG_DEFAULT)) > 0)
			count++;
		text = warn_end();
		if (boundary) {
			assert_int_equal(type, REC_TYPE_EOF);
			assert_int_equal(text[0], 0);
		} else {
			assert_int_equal(type, REC_TYPE_ERROR);
			assert_int_equal(count_of(text, "warning: "), 1);
			assert_non_null(strstr(text,
					       "unexpected end of input"));
		}
		free(text);
		stream_free(s);
	}
	close(fd);
	strbuf_release(&rec);
	free(m1);
}

/* test_overlong - records over the caller's limit are skipped errors */
static void
test_overlong(void **state)
{
	struct stream *s = fixture_stream(M1);
	struct strbuf rec = STRBUF_INIT;
	struct strbuf small = STRBUF_INIT;
	char *text;

	assert_int_equal(stream_seek(s, 554), 554);
	warn_begin();
	assert_int_equal(rec_get(s, &rec, 2047, REC_FLAG_DEFAULT),
			 REC_TYPE_ERROR);
	text = warn_end();
	assert_one_warning(text, "illegal length 2048, record type 76");
	free(text);
	/* like Postfix, the bad record's data was skipped */
	assert_int_equal(stream_tell(s), 2605);
	assert_int_equal(rec_get(s, &rec, 2048, REC_FLAG_DEFAULT),
			 REC_TYPE_CONT);
	assert_int_equal(rec_get(s, &rec, 904, REC_FLAG_DEFAULT),
			 REC_TYPE_NORM);

	/* a buffer ceiling is a limit too */
	strbuf_init(&small, 100);
	assert_int_equal(stream_seek(s, 554), 554);
	warn_begin();
	assert_int_equal(rec_get(s, &small, 0, REC_FLAG_DEFAULT),
			 REC_TYPE_ERROR);
	text = warn_end();
	assert_one_warning(text, "does not fit");
	free(text);
	strbuf_release(&small);
	strbuf_release(&rec);
	stream_close(s);
}

/* test_length_bytes - at most 5 length bytes, at most INT_MAX */
static void
test_length_bytes(void **state)
{
	struct strbuf rec = STRBUF_INIT;
	struct stream *s;

	one_record_error("N\x80\x80\x80\x80\x80\x01", 7, 0, REC_FLAG_DEFAULT,
			 "more than 5 length bytes");
	one_record_error("N\xff\xff\xff\xff\x7f" "abc", 9, 0,
			 REC_FLAG_DEFAULT, "illegal length 34359738367");
	one_record_error("N\x80\x80\x80\x80\x08", 6, 0, REC_FLAG_DEFAULT,
			 "illegal length 2147483648");
	/* INT_MAX is a legal length; the data is not there */
	one_record_error("N\xff\xff\xff\xff\x07" "abc", 9, 0,
			 REC_FLAG_DEFAULT, "unexpected end of input in data");
	one_record_error("N\x80", 2, 0, REC_FLAG_DEFAULT,
			 "unexpected end of input reading length");
	one_record_error("N", 1, 0, REC_FLAG_DEFAULT,
			 "unexpected end of input reading length");
	one_record_error("N\x05" "abc", 5, 0, REC_FLAG_DEFAULT,
			 "unexpected end of input in data, record type 78 "
			 "length 5");

	/* five bytes that say 0 are long-winded but valid */
	s = mem_stream("N\x80\x80\x80\x80\x00" "E\x00", 8);
	assert_int_equal(rec_get(s, &rec, 0, REC_FLAG_DEFAULT),
			 REC_TYPE_NORM);
	assert_int_equal(rec.len, 0);
	assert_int_equal(rec_get(s, &rec, 0, REC_FLAG_DEFAULT), REC_TYPE_END);
	assert_int_equal(rec_get(s, &rec, 0, REC_FLAG_DEFAULT), REC_TYPE_EOF);
	stream_close(s);

	/* an empty file is a clean EOF */
	s = mem_stream("", 0);
	assert_int_equal(rec_get(s, &rec, 0, REC_FLAG_DEFAULT), REC_TYPE_EOF);
	stream_close(s);
	strbuf_release(&rec);
}

/* main - run the tests */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_m1_records),
		cmocka_unit_test(test_rewrite_exact),
		cmocka_unit_test(test_m2_content),
		cmocka_unit_test(test_length_encoding),
		cmocka_unit_test(test_put_errors),
		cmocka_unit_test(test_pointer),
		cmocka_unit_test(test_bad_pointer),
		cmocka_unit_test(test_pointer_pipe),
		cmocka_unit_test(test_pointer_loop_self),
		cmocka_unit_test(test_pointer_loop_records),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_overlong),
		cmocka_unit_test(test_length_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
