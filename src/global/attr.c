/*
 * attr - Postfix's "attr0" attribute protocol on a stream
 *
 * A list is a sequence of name NUL value NUL pairs ended by one more NUL
 * (an empty name).  Numbers travel as unsigned decimal, binary data as
 * base64 (standard alphabet, '=' padding).
 *
 * attr_put_str(), attr_put_int(), attr_put_long(), attr_put_data() and
 *	attr_put_end() append to the stream's output buffer; the caller
 *	flushes and checks stream_error().  A NULL string is sent as "".
 * attr_read_pair() reads any next pair: 1 pair, 0 end of list, -1 error.
 * attr_get_str(), attr_get_int(), attr_get_long(), attr_get_data() and
 *	attr_expect() read the next pair, which must carry the given name
 *	(and for attr_expect() the given value).  The value buffer is
 *	replaced.
 * attr_get_end() requires the end-of-list marker next.
 * attr_skip_to_end() discards pairs up to and including the marker.
 * attr_base64_encode() and attr_base64_decode() replace the contents of
 *	their output buffer; the decoder refuses anything that is not
 *	well-formed base64 text (length a multiple of 4, padding only at
 *	the end, no white space or other characters), or that would not fit
 *	the ceiling of out.  The encoder panics if out's ceiling is too low.
 *
 * Errors: every reader returns -1 after one msg_warn() that names the
 * expected attribute and what was seen instead: premature end of input
 * (EOF, timeout or I/O error: see stream_error()), an unexpected name or
 * end of list, a name or value longer than ATTR_VALUE_MAX, a number that
 * does not fit, or malformed base64.  Readers never crash on hostile
 * input, and consume no more than one name and one value past the point
 * of failure.
 *
 * Numbers: an int is read as an unsigned 32-bit value and cast, so the
 * "4294967295" a peer writes for -1 reads back as -1; a long likewise as
 * an unsigned long.  Signs, spaces and empty strings are refused.
 *
 * SEE ALSO
 *	postfix-interfaces.md section 2; Postfix attr_print0(3), attr_scan0(3)
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "global/attr.h"
#include "util/msg.h"
#include "util/strbuf.h"
#include "util/stream.h"
#include "util/xmalloc.h"

/* Longest piece of peer text echoed in a warning. */
#define ATTR_SHOW	100

/* Input bytes per EVP_EncodeBlock() call: a multiple of 3. */
#define B64_CHUNK_IN	(3 * 1024)
/* Input characters per EVP_DecodeBlock() call: a multiple of 4. */
#define B64_CHUNK_TXT	(4 * 1024)

/* attr_put_str - write a string attribute */
void
attr_put_str(struct stream *s, const char *name, const char *value)
{
	if (value == NULL)
		value = "";
	stream_write(s, name, strlen(name) + 1);
	stream_write(s, value, strlen(value) + 1);
}

/* attr_put_int - write an int as its unsigned 32-bit value */
void
attr_put_int(struct stream *s, const char *name, int value)
{
	stream_write(s, name, strlen(name) + 1);
	stream_printf(s, "%u", (unsigned int)value);
	stream_write(s, "", 1);
}

/* attr_put_long - write a long as its unsigned value */
void
attr_put_long(struct stream *s, const char *name, long value)
{
	stream_write(s, name, strlen(name) + 1);
	stream_printf(s, "%lu", (unsigned long)value);
	stream_write(s, "", 1);
}

/* attr_put_data - write binary data, base64-encoded */
void
attr_put_data(struct stream *s, const char *name, const void *data,
	      size_t len)
{
	struct strbuf text = STRBUF_INIT;

	attr_base64_encode(&text, data, len);
	stream_write(s, name, strlen(name) + 1);
	stream_write(s, strbuf_str(&text), text.len + 1);
	strbuf_release(&text);
}

/* attr_put_end - write the end-of-list marker */
void
attr_put_end(struct stream *s)
{
	stream_write(s, "", 1);
}

/* attr_base64_encode - replace out with the base64 form of data */
void
attr_base64_encode(struct strbuf *out, const void *data, size_t len)
{
	const unsigned char *in = data;
	unsigned char chunk[4 * (B64_CHUNK_IN / 3) + 1];

	strbuf_reset(out);
	while (len > 0) {
		size_t take = len < B64_CHUNK_IN ? len : B64_CHUNK_IN;
		int n = EVP_EncodeBlock(chunk, in, (int)take);

		if (n < 0 || strbuf_append(out, chunk, (size_t)n) < 0)
			msg_panic("attr_base64_encode: %zu bytes do not fit "
				  "the output buffer", len);
		in += take;
		len -= take;
	}
	/* An empty value still needs a valid (empty) C string. */
	if (out->data == NULL)
		strbuf_append(out, "", 0);
}

/* b64_valid - text is base64 with padding only at the end */
static int
b64_valid(const char *text, size_t len)
{
	size_t pad = 0;

	if (len % 4)
		return 0;
	if (len >= 1 && text[len - 1] == '=')
		pad++;
	if (len >= 2 && text[len - 2] == '=')
		pad++;
	for (size_t i = 0; i < len - pad; i++) {
		unsigned char ch = (unsigned char)text[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')
		      || (ch >= '0' && ch <= '9') || ch == '+' || ch == '/'))
			return 0;
	}
	return 1;
}

/* attr_base64_decode - replace out with decoded text; -1 if malformed */
int
attr_base64_decode(struct strbuf *out, const char *text, size_t len)
{
	unsigned char chunk[3 * (B64_CHUNK_TXT / 4)];
	size_t pad;

	strbuf_reset(out);
	if (!b64_valid(text, len))
		return -1;
	pad = (len && text[len - 1] == '=') + (len > 1 && text[len - 2] == '=');
	while (len > 0) {
		size_t take = len < B64_CHUNK_TXT ? len : B64_CHUNK_TXT;
		int n = EVP_DecodeBlock(chunk, (const unsigned char *)text,
					(int)take);

		if (n < 0)
			return -1;
		/*
		 * EVP_DecodeBlock() counts the bytes that '=' padding stands
		 * for; padding can only sit in the last chunk.
		 */
		if (take == len)
			n -= (int)pad;
		if (strbuf_append(out, chunk, (size_t)n) < 0) {
			strbuf_reset(out);
			return -1;
		}
		text += take;
		len -= take;
	}
	if (out->data == NULL)
		strbuf_append(out, "", 0);
	return 0;
}

/* input_trouble - the reason a read stopped short, for a warning */
static const char *
input_trouble(const struct stream *s)
{
	if (stream_error(s) == STREAM_EOF || stream_error(s) == STREAM_OK)
		return "premature end of input";
	return stream_strerror(s);
}

/*
 * read_item - read one NUL-terminated item into buf (replaced); what names
 * the item for warnings, e.g. 'attribute name (expected "queue_id")'.
 * Returns 0 or -1 (warned).
 */
static int
read_item(struct stream *s, struct strbuf *buf, const char *what)
{
	size_t limit = ATTR_VALUE_MAX;
	int ret;

	if (buf->ceiling && buf->ceiling < limit)
		limit = buf->ceiling;
	strbuf_reset(buf);

	/*
	 * Ask for one byte more than the limit, so that an item of exactly
	 * the limit is accepted however the input happens to be split.
	 */
	ret = stream_getdelim(s, buf, '\0', limit + 1);
	if (ret == STREAM_LINE_OK && buf->len <= limit) {
		if (buf->data == NULL)
			strbuf_append(buf, "", 0);
		return 0;
	}
	if (ret == STREAM_LINE_OK || ret == STREAM_LINE_LONG)
		msg_warn("%s longer than %zu bytes", what, limit);
	else
		msg_warn("%s while reading %s", input_trouble(s), what);
	return -1;
}

/* attr_read_pair - read any next pair: 1 pair, 0 end of list, -1 error */
int
attr_read_pair(struct stream *s, struct strbuf *name, struct strbuf *value)
{
	struct strbuf what = STRBUF_INIT;
	int ret = -1;

	if (read_item(s, name, "attribute name") < 0)
		goto out;
	if (name->len == 0) {
		strbuf_reset(value);
		ret = 0;
		goto out;
	}
	strbuf_printf(&what, "value of attribute \"%.*s\"", ATTR_SHOW,
		      name->data);
	if (read_item(s, value, what.data) < 0)
		goto out;
	ret = 1;
out:
	strbuf_release(&what);
	return ret;
}

/*
 * get_value - read the next pair, which must be called name; its value
 * goes into value (replaced).  0 ok, -1 error (warned).
 */
static int
get_value(struct stream *s, const char *name, struct strbuf *value)
{
	struct strbuf seen = STRBUF_INIT;
	struct strbuf what = STRBUF_INIT;
	int ret = -1;

	strbuf_printf(&what, "attribute name (expected \"%.*s\")", ATTR_SHOW,
		      name);
	if (read_item(s, &seen, what.data) < 0)
		goto out;
	if (seen.len == 0) {
		msg_warn("unexpected end of attribute list (expected \"%.*s\")",
			 ATTR_SHOW, name);
		goto out;
	}
	if (strcmp(seen.data, name) != 0) {
		msg_warn("unexpected attribute \"%.*s\" (expected \"%.*s\")",
			 ATTR_SHOW, seen.data, ATTR_SHOW, name);
		goto out;
	}
	strbuf_reset(&what);
	strbuf_printf(&what, "value of attribute \"%.*s\"", ATTR_SHOW, name);
	if (read_item(s, value, what.data) < 0)
		goto out;
	ret = 0;
out:
	strbuf_release(&seen);
	strbuf_release(&what);
	return ret;
}

/* parse_unsigned - strict decimal digits up to max; 0 ok, -1 bad */
static int
parse_unsigned(const struct strbuf *text, unsigned long max,
	       unsigned long *result)
{
	const char *cp = strbuf_str(text);
	char *end;
	unsigned long val;

	/* strtoul() would accept spaces, signs and "0x"; the peer never
	 * sends them, so they mean a protocol mix-up. */
	if (text->len == 0 || strspn(cp, "0123456789") != text->len)
		return -1;
	errno = 0;
	val = strtoul(cp, &end, 10);
	if (errno == ERANGE || *end != 0 || val > max)
		return -1;
	*result = val;
	return 0;
}

/* attr_get_str - the next pair must be name; its value as a string */
int
attr_get_str(struct stream *s, const char *name, struct strbuf *value)
{
	return get_value(s, name, value);
}

/* get_number - the next pair must be name; its value, at most max */
static int
get_number(struct stream *s, const char *name, unsigned long max,
	   unsigned long *value)
{
	struct strbuf text = STRBUF_INIT;
	int ret = -1;

	if (get_value(s, name, &text) == 0) {
		if (parse_unsigned(&text, max, value) == 0)
			ret = 0;
		else
			msg_warn("bad number \"%.*s\" for attribute \"%s\"",
				 ATTR_SHOW, text.data, name);
	}
	strbuf_release(&text);
	return ret;
}

/* attr_get_int - the next pair must be name; its value as an int */
int
attr_get_int(struct stream *s, const char *name, int *value)
{
	unsigned long val;

	if (get_number(s, name, UINT32_MAX, &val) < 0)
		return -1;
	/* 4294967295 is how the peer writes -1. */
	*value = (int)(uint32_t)val;
	return 0;
}

/* attr_get_long - the next pair must be name; its value as a long */
int
attr_get_long(struct stream *s, const char *name, long *value)
{
	unsigned long val;

	if (get_number(s, name, ULONG_MAX, &val) < 0)
		return -1;
	*value = (long)val;
	return 0;
}

/* attr_get_data - the next pair must be name; its value base64-decoded */
int
attr_get_data(struct stream *s, const char *name, struct strbuf *value)
{
	struct strbuf text = STRBUF_INIT;
	struct strbuf bin = STRBUF_INIT;
	int ret = -1;

	if (get_value(s, name, &text) < 0)
		goto out;
	if (attr_base64_decode(&bin, strbuf_str(&text), text.len) < 0) {
		msg_warn("bad base64 data \"%.*s\" for attribute \"%s\"",
			 ATTR_SHOW, text.data, name);
		goto out;
	}
	strbuf_reset(value);
	if (strbuf_append(value, strbuf_str(&bin), bin.len) < 0) {
		msg_warn("decoded value of attribute \"%s\" longer than %zu "
			 "bytes", name, value->ceiling);
		goto out;
	}
	ret = 0;
out:
	strbuf_release(&text);
	strbuf_release(&bin);
	return ret;
}

/* attr_expect - the next pair must be exactly name = value */
int
attr_expect(struct stream *s, const char *name, const char *value)
{
	struct strbuf text = STRBUF_INIT;
	int ret = -1;

	if (get_value(s, name, &text) < 0)
		goto out;
	if (strcmp(text.data, value) != 0) {
		msg_warn("unexpected value \"%.*s\" for attribute \"%s\" "
			 "(expected \"%s\")", ATTR_SHOW, text.data, name,
			 value);
		goto out;
	}
	ret = 0;
out:
	strbuf_release(&text);
	return ret;
}

/* attr_get_end - the next item must be the end-of-list marker */
int
attr_get_end(struct stream *s)
{
	struct strbuf seen = STRBUF_INIT;
	int ret = -1;

	if (read_item(s, &seen, "attribute name (expected end of list)") < 0)
		goto out;
	if (seen.len != 0) {
		msg_warn("unexpected attribute \"%.*s\" (expected end of list)",
			 ATTR_SHOW, seen.data);
		goto out;
	}
	ret = 0;
out:
	strbuf_release(&seen);
	return ret;
}

/* attr_skip_to_end - discard pairs through the end-of-list marker */
int
attr_skip_to_end(struct stream *s)
{
	struct strbuf name = STRBUF_INIT;
	struct strbuf value = STRBUF_INIT;
	int ret;

	while ((ret = attr_read_pair(s, &name, &value)) > 0)
		/* void */ ;
	strbuf_release(&name);
	strbuf_release(&value);
	return ret;
}
