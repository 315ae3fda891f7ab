/*
 * mime_state - one-pass MIME parser with 8-bit to quoted-printable output
 *
 * mime_state_create() makes a parser in the primary header state.
 * mime_state_update() feeds it one queue-file record; returns the sticky
 *	MIME_ERR_* bits.
 * mime_state_free() releases it.
 * mime_state_detail() maps error bits to the DSN status and reason text
 *	of the most serious error.
 * mime_state_limits() overrides the safety limits (tests).
 *
 * The machine knows only what a delivery agent needs: header blocks and
 * bodies; that multipart/any bodies hold parts with their own headers,
 * separated by boundary lines (RFC 2046 section 5.1.1); that message/rfc822
 * bodies start with headers (section 5.2.1); and the encoding domain of
 * each part (RFC 2045 section 6).  It is deliberately forgiving, as
 * Postfix 3.7's parser is, because it must pass real-world mail unchanged
 * and byte-exact with Postfix:
 *
 *   - headers: a line "label:" (optional blanks before the colon, which
 *     are removed) starts one; lines starting with a blank continue it;
 *     record pieces (REC_TYPE_CONT) are glued.  Text past
 *     header_size_limit is dropped (the header already stored goes out).
 *     A NUL byte ends the text of a header line.
 *   - the first line that is neither ends the header block.  An empty
 *     line is passed on as body.  Any other line in the primary headers
 *     gets an empty line inserted before it; in a part it does not.
 *   - Content-Type: text/any, message/{rfc822,partial,external-body,global},
 *     multipart/any (digest parts default to message/rfc822); every
 *     boundary= parameter of a multipart type is pushed, cut at
 *     mime_boundary_length_limit, unless mime_nesting_limit is passed.
 *   - a body line "--boundary" (anything may follow) starts the next part
 *     of the innermost enclosing multipart that it names, closing those
 *     inside it; "--boundary--" closes that multipart too.  A line piece
 *     that continues a longer line is never a boundary.
 *
 * Downgrading (MIME_OPT_DOWNGRADE), for a server without 8BITMIME:
 *   - a part whose Content-Transfer-Encoding is 8bit or binary loses that
 *     header and gets "Content-Transfer-Encoding: quoted-printable" at the
 *     end of its header block (multipart/any and message/any other than
 *     message/global get "7bit" instead);
 *   - its body lines are encoded: bytes below 32 except TAB, "=" and bytes
 *     above 126 become =XX (upper-case hex); an output line longer than
 *     72 characters is ended with a soft break "=" before the next input
 *     byte; a blank at the end of an input line becomes =20 or =09;
 *   - 7bit, base64 and quoted-printable parts, multipart prologues and
 *     epilogues and all headers (8-bit ones too) pass through unchanged.
 *
 * Errors: the result of mime_state_update() is a set of MIME_ERR_* bits,
 * each set only when its MIME_OPT_REPORT_* option is on.  The first
 * instance of each is also passed to the error callback.  The SMTP client
 * uses MIME_OPT_DOWNGRADE | MIME_OPT_REPORT_NESTING and bounces the
 * message (mime_state_detail(): 5.6.0 "MIME nesting exceeds safety
 * limit") when the result is non-zero.
 *
 * SEE ALSO
 *	include/global/mime_state.h (the callbacks), header_opts(3),
 *	RFC 2045, RFC 2046, RFC 1652; Postfix 3.7 mime_state(3)
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "global/header_opts.h"
#include "global/mime_state.h"
#include "global/params.h"
#include "global/record.h"
#include "util/msg.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

/* Parser states: the header states equal the header classes. */
enum {
	ST_PRIMARY = MIME_HDR_PRIMARY,
	ST_MULTIPART = MIME_HDR_MULTIPART,
	ST_NESTED = MIME_HDR_NESTED,
	ST_BODY,
};

/* Content types and subtypes that change the parse. */
enum { CT_OTHER, CT_TEXT, CT_MESSAGE, CT_MULTIPART };
enum { ST_SUB_OTHER, ST_SUB_PLAIN, ST_SUB_RFC822, ST_SUB_PARTIAL,
       ST_SUB_EXTERNAL, ST_SUB_GLOBAL };

/*
 * Encodings and domains share one code space, so that "is this a domain
 * or a transformation" is encoding == domain (RFC 2045 section 6.1).
 */
enum { ENC_QP = 1, ENC_BASE64 = 2, ENC_7BIT = 7, ENC_8BIT = 8,
       ENC_BINARY = 9 };

static const struct {
	const char *name;
	int encoding;
	int domain;
} encodings[] = {
	{"7bit", ENC_7BIT, ENC_7BIT},
	{"8bit", ENC_8BIT, ENC_8BIT},
	{"binary", ENC_BINARY, ENC_BINARY},
	{"base64", ENC_BASE64, ENC_7BIT},
	{"quoted-printable", ENC_QP, ENC_7BIT},
};

#define N_ENCODINGS (sizeof(encodings) / sizeof(encodings[0]))

/* One open multipart: its boundary and the default type of its parts. */
struct boundary {
	char *text;		/* owned, cut at the length limit */
	size_t len;
	int part_ctype;
	int part_stype;
	struct boundary *next;	/* enclosing multipart */
};

/* Header value tokens, RFC 2045 section 5.1 */
#define TOK_ATOM	256	/* a token; else a special character */
#define TOK_QUOTED	257	/* a quoted string, quotes removed */
#define TOK_MAX		3

struct token {
	int type;
	size_t off;		/* in tokbuf */
	const char *value;
};

struct mime_state {
	int state;		/* ST_* */
	int ctype, stype;	/* current or default content type */
	int encoding, domain;	/* current or default encoding */
	struct strbuf buf;	/* pending header, or pending QP line */
	int prev_rec_type;	/* of the previous record; 0 after a header */
	int nesting;		/* pushes minus pops, from -1 */
	struct boundary *stack;
	int errs;
	off_t head_offset, body_offset;
	struct token tok[TOK_MAX];
	struct strbuf tokbuf;

	int flags;		/* MIME_OPT_* */
	struct mime_state_cb cb;
	void *ctx;		/* the caller's */
	size_t header_limit;
	long nesting_limit;
	size_t boundary_limit;
};

static const struct mime_state_detail details[] = {
	/* Most serious first: a result reports one error. */
	{MIME_ERR_NESTING, "5.6.0", "MIME nesting exceeds safety limit"},
	{MIME_ERR_TRUNC_HEADER, "5.6.0",
	 "message header length exceeds safety limit"},
	{MIME_ERR_8BIT_IN_HEADER, "5.6.0",
	 "improper use of 8-bit data in message header"},
	{MIME_ERR_8BIT_IN_7BIT_BODY, "5.6.0",
	 "improper use of 8-bit data in message body"},
	{MIME_ERR_ENCODING_DOMAIN, "5.6.0",
	 "invalid message/* or multipart/* encoding domain"},
};

#define MIME_HEADER_LIMIT_DEFAULT 102400	/* postconf -d header_size_limit */

#define RFC2045_SPECIALS	"()<>@,;:\\\"/[]?="
#define RFC822_SPECIALS		"()<>@,;:\\\".[]"

#define IS_BLANK(c)	((c) == ' ' || (c) == '\t')
#define IS_LWSP(c)	(IS_BLANK(c) || (c) == '\r' || (c) == '\n')
#define IS_CTL(c)	((unsigned char)(c) < 128 && iscntrl((unsigned char)(c)))

/* report - set an error bit; tell the callback the first time */
static void
report(struct mime_state *st, int err, const char *text, size_t len)
{
	if (st->errs & err)
		return;
	if (st->cb.error)
		st->cb.error(st->ctx, err, text, len);
	st->errs |= err;
}

/* set_state - enter a state; a new block starts at offset 0 */
static void
set_state(struct mime_state *st, int state)
{
	st->state = state;
	if (state == ST_BODY)
		st->body_offset = 0;
	else
		st->head_offset = 0;
}

/* set_part - enter a state with a fresh content type and encoding */
static void
set_part(struct mime_state *st, int state, int ctype, int stype, int enc)
{
	set_state(st, state);
	st->ctype = ctype;
	st->stype = stype;
	st->encoding = enc;
	st->domain = enc;
}

/*
 * head_out - pass the pending header on.  Postfix advances the header
 * offset by the length of the record being processed, not of the header;
 * header checks see those numbers, so they are kept.
 */
static void
head_out(struct mime_state *st, const struct header_opts *info,
	 size_t reclen)
{
	if (st->cb.header) {
		st->cb.header(st->ctx, st->state, info, &st->buf,
			      st->head_offset);
		st->head_offset += (off_t)reclen + 1;
	}
}

/* body_out - pass a body line (piece) on */
static void
body_out(struct mime_state *st, int rec_type, const char *text, size_t len)
{
	if (st->cb.body) {
		st->cb.body(st->ctx, rec_type, text, len, st->body_offset);
		st->body_offset += (off_t)len + 1;
	}
}

/* append_text - append up to the first NUL, as header text is a string */
static void
append_text(struct strbuf *sb, const char *text, size_t len)
{
	const char *nul = memchr(text, 0, len);

	strbuf_append(sb, text, nul ? (size_t)(nul - text) : len);
}

/* push - open a multipart level */
static void
push(struct mime_state *st, int part_ctype, int part_stype,
     const char *text)
{
	struct boundary *b = xmalloc(sizeof(*b));

	/*
	 * RFC 2046 allows 70 characters; longer ones exist in the wild.  A
	 * cut boundary still finds every delimiter line, since anything may
	 * follow the boundary on those lines.
	 */
	b->len = strlen(text);
	if (b->len > st->boundary_limit)
		b->len = st->boundary_limit;
	b->text = xstrndup(text, b->len);
	b->part_ctype = part_ctype;
	b->part_stype = part_stype;
	b->next = st->stack;
	st->stack = b;
	st->nesting++;
	if (msg_verbose)
		msg_info("mime_state: push boundary %s", b->text);
}

/* pop - close the innermost multipart level */
static void
pop(struct mime_state *st)
{
	struct boundary *b = st->stack;

	if (b == NULL)
		msg_panic("mime_state: pop from an empty stack");
	if (msg_verbose)
		msg_info("mime_state: pop boundary %s", b->text);
	st->stack = b->next;
	st->nesting--;
	free(b->text);
	free(b);
}

/*
 * tokenize - the next at most TOK_MAX items of a header value, starting
 * at *ptr: atoms, quoted strings (unquoted, backslash escapes resolved, a
 * folded line end and the blanks before it removed), and single special
 * or control characters.  Blanks, line ends and (nested) comments are
 * skipped.  With a terminator, parsing stops after it (items past TOK_MAX
 * are skipped); without one, after TOK_MAX items.  Returns the number of
 * items stored, or -1 when the text ends with nothing left to parse.
 */
static int
tokenize(struct mime_state *st, const char **ptr, const char *specials,
	 int terminator)
{
	const unsigned char *cp = (const unsigned char *)*ptr;
	struct strbuf *tb = &st->tokbuf;
	int count = 0, ch = 0, depth, i;

	strbuf_reset(tb);
	for (;;) {
		ch = *cp;
		if (ch == 0 || (terminator == 0 && count >= TOK_MAX))
			break;
		cp++;
		if (IS_LWSP(ch))
			continue;
		if (ch == terminator)
			break;
		if (ch == '(') {
			for (depth = 1; (ch = *cp) != 0;) {
				cp++;
				if (ch == '(') {
					depth++;
				} else if (ch == ')') {
					if (--depth == 0)
						break;
				} else if (ch == '\\') {
					if (*cp == 0)
						break;
					cp++;
				}
			}
			continue;
		}
		if (ch == '"') {
			int keep = count < TOK_MAX;

			if (keep) {
				st->tok[count].type = TOK_QUOTED;
				st->tok[count].off = tb->len;
			}
			while ((ch = *cp) != 0) {
				cp++;
				if (ch == '"')
					break;
				if (ch == '\n') {
					while (keep && tb->len > 0
					       && IS_LWSP(tb->data[tb->len - 1]))
						strbuf_truncate(tb, tb->len - 1);
					continue;
				}
				if (ch == '\\') {
					if ((ch = *cp) == 0)
						break;
					cp++;
				}
				if (keep)
					strbuf_putc(tb, ch);
			}
			if (keep) {
				strbuf_putc(tb, 0);
				count++;
			}
			continue;
		}
		if (strchr(specials, ch) || IS_CTL(ch)) {
			if (count < TOK_MAX) {
				st->tok[count].type = ch;
				st->tok[count].off = tb->len;
				strbuf_putc(tb, ch);
				strbuf_putc(tb, 0);
				count++;
			}
			continue;
		}
		if (count < TOK_MAX) {
			st->tok[count].type = TOK_ATOM;
			st->tok[count].off = tb->len;
			strbuf_putc(tb, ch);
		}
		while ((ch = *cp) != 0 && !IS_LWSP(ch) && !IS_CTL(ch)
		       && !strchr(specials, ch)) {
			cp++;
			if (count < TOK_MAX)
				strbuf_putc(tb, ch);
		}
		if (count < TOK_MAX) {
			strbuf_putc(tb, 0);
			count++;
		}
	}
	if (count == 0 && ch == 0)
		return -1;
	*ptr = (const char *)cp;
	for (i = 0; i < count; i++)
		st->tok[i].value = tb->data + st->tok[i].off;
	return count;
}

/* is_atom - token i is an atom equal to word, case ignored */
static int
is_atom(const struct mime_state *st, int i, const char *word)
{
	return st->tok[i].type == TOK_ATOM
		&& strcasecmp(st->tok[i].value, word) == 0;
}

/* content_type - note the type of a Content-Type header; push boundaries */
static void
content_type(struct mime_state *st, const struct header_opts *info)
{
	const char *cp = strbuf_str(&st->buf) + strlen(info->name) + 1;
	int n, part_ctype, part_stype;

	if ((n = tokenize(st, &cp, RFC2045_SPECIALS, ';')) <= 0) {
		st->ctype = CT_OTHER;
		return;
	}
	/* A type other than these three leaves the current one alone. */
	if (is_atom(st, 0, "text")) {
		st->ctype = CT_TEXT;
		st->stype = (n >= 3 && st->tok[1].type == '/'
			     && is_atom(st, 2, "plain")) ? ST_SUB_PLAIN
						       : ST_SUB_OTHER;
	} else if (is_atom(st, 0, "message")) {
		st->ctype = CT_MESSAGE;
		st->stype = ST_SUB_OTHER;
		if (n >= 3 && st->tok[1].type == '/') {
			if (is_atom(st, 2, "rfc822"))
				st->stype = ST_SUB_RFC822;
			else if (is_atom(st, 2, "partial"))
				st->stype = ST_SUB_PARTIAL;
			else if (is_atom(st, 2, "external-body"))
				st->stype = ST_SUB_EXTERNAL;
			else if (is_atom(st, 2, "global"))
				st->stype = ST_SUB_GLOBAL;
		}
	} else if (is_atom(st, 0, "multipart")) {
		st->ctype = CT_MULTIPART;
		if (n >= 3 && st->tok[1].type == '/'
		    && is_atom(st, 2, "digest")) {
			part_ctype = CT_MESSAGE;	/* RFC 2046 5.1.5 */
			part_stype = ST_SUB_RFC822;
		} else {
			part_ctype = CT_TEXT;
			part_stype = ST_SUB_PLAIN;
		}

		/*
		 * Every boundary parameter is pushed (several are illegal,
		 * and could hide parts from a parser that takes only one),
		 * whatever the form of its value.
		 */
		while ((n = tokenize(st, &cp, RFC2045_SPECIALS, ';')) >= 0) {
			if (n < 3 || !is_atom(st, 0, "boundary")
			    || st->tok[1].type != '=')
				continue;
			if (st->nesting > st->nesting_limit) {
				if (st->flags & MIME_OPT_REPORT_NESTING)
					report(st, MIME_ERR_NESTING,
					       st->buf.data, st->buf.len);
			} else {
				push(st, part_ctype, part_stype,
				     st->tok[2].value);
			}
		}
	}
}

/* content_encoding - note a Content-Transfer-Encoding header */
static void
content_encoding(struct mime_state *st, const struct header_opts *info)
{
	const char *cp = strbuf_str(&st->buf) + strlen(info->name) + 1;
	size_t i;

	/* An unknown encoding keeps the current one, a domain in any case. */
	if (tokenize(st, &cp, RFC822_SPECIALS, 0) <= 0
	    || st->tok[0].type != TOK_ATOM)
		return;
	for (i = 0; i < N_ENCODINGS; i++) {
		if (strcasecmp(st->tok[0].value, encodings[i].name) == 0) {
			st->encoding = encodings[i].encoding;
			st->domain = encodings[i].domain;
			return;
		}
	}
}

/* encoding_name - for error reports */
static const char *
encoding_name(int encoding)
{
	size_t i;

	for (i = 0; i < N_ENCODINGS; i++)
		if (encodings[i].encoding == encoding)
			return encodings[i].name;
	return "unknown";
}

/* downgrading - this part's body must be made 7-bit */
static int
downgrading(const struct mime_state *st)
{
	return (st->flags & MIME_OPT_DOWNGRADE) && st->domain != ENC_7BIT;
}

/* flush_header - classify the pending header and pass it on */
static void
flush_header(struct mime_state *st, size_t reclen)
{
	const struct header_opts *info = header_opts_find(strbuf_str(&st->buf));

	if (info && !(st->flags & MIME_OPT_DISABLE_MIME)) {
		if (info->type == HDR_CONTENT_TYPE)
			content_type(st, info);
		else if (info->type == HDR_CONTENT_TRANSFER_ENCODING)
			content_encoding(st, info);
	}
	if ((st->flags & MIME_OPT_REPORT_8BIT_IN_HEADER)
	    && !(st->errs & MIME_ERR_8BIT_IN_HEADER)) {
		for (size_t i = 0; i < st->buf.len; i++) {
			if ((unsigned char)st->buf.data[i] & 0x80) {
				report(st, MIME_ERR_8BIT_IN_HEADER,
				       st->buf.data, st->buf.len);
				break;
			}
		}
	}
	/* An 8bit/binary label is replaced at the end of the block. */
	if (!(info && info->type == HDR_CONTENT_TRANSFER_ENCODING
	      && downgrading(st)))
		head_out(st, info, reclen);
	st->prev_rec_type = 0;
	strbuf_reset(&st->buf);
}

/* check_domain - message/any and multipart/any need an identity encoding */
static void
check_domain(struct mime_state *st)
{
	int bad = 0;

	if (st->ctype == CT_MESSAGE) {
		if (st->stype == ST_SUB_PARTIAL || st->stype == ST_SUB_EXTERNAL)
			bad = st->domain != ENC_7BIT;
		else if (st->stype == ST_SUB_RFC822)	/* not global: EAI */
			bad = st->encoding != st->domain;
	} else if (st->ctype == CT_MULTIPART) {
		bad = st->encoding != st->domain;
	}
	if (bad) {
		const char *name = encoding_name(st->encoding);

		report(st, MIME_ERR_ENCODING_DOMAIN, name, strlen(name));
	}
}

/*
 * end_headers - the record at hand is not part of the header block: emit
 * the replacement encoding header, then decide what the body is.
 */
static void
end_headers(struct mime_state *st, int is_text, size_t len)
{
	if (downgrading(st)) {
		int identity = (st->ctype == CT_MESSAGE
				&& st->stype != ST_SUB_GLOBAL)
			       || st->ctype == CT_MULTIPART;

		strbuf_reset(&st->buf);
		strbuf_printf(&st->buf, "Content-Transfer-Encoding: %s",
			      identity ? "7bit" : "quoted-printable");
		head_out(st, NULL, len);
		strbuf_reset(&st->buf);
	}
	if (st->state == ST_PRIMARY && st->cb.header_end)
		st->cb.header_end(st->ctx);
	if (st->flags & MIME_OPT_REPORT_ENCODING_DOMAIN)
		check_domain(st);

	if (!is_text) {
		set_state(st, ST_BODY);
	} else if (len == 0) {
		/*
		 * The empty line.  The offset is reset before the state
		 * changes, so a message/rfc822 part's empty line is counted
		 * in the old body block, as Postfix counts it.
		 */
		st->body_offset = 0;
		if (st->ctype == CT_MESSAGE
		    && (st->stype == ST_SUB_RFC822
			|| (st->stype == ST_SUB_GLOBAL && !downgrading(st))))
			set_part(st, ST_NESTED, CT_TEXT, ST_SUB_PLAIN,
				 ENC_7BIT);
		else if (st->ctype == CT_MULTIPART)
			set_part(st, ST_BODY, CT_OTHER, ST_SUB_OTHER,
				 ENC_7BIT);	/* the prologue */
		else
			set_state(st, ST_BODY);
	} else {
		/*
		 * Not a header, not the empty line.  Primary headers get an
		 * empty line to separate them from this body text; parts do
		 * not, so that signed content stays intact.
		 */
		if (msg_verbose)
			msg_info("mime_state: garbage in %s header",
				 st->state == ST_MULTIPART ? "multipart"
				 : st->state == ST_PRIMARY ? "primary"
							   : "nested");
		if (st->state == ST_PRIMARY)
			body_out(st, REC_TYPE_NORM, "", 0);
		set_state(st, ST_BODY);
	}
}

/*
 * header_input - a record in a header state.  Returns 1 when the record
 * was taken as (part of) a header, 0 when it belongs to the body (the
 * header block has been ended).
 */
static int
header_input(struct mime_state *st, int rec_type, int is_text,
	     const char *text, size_t len)
{
	size_t label;

	if (st->buf.len > 0) {
		if (is_text && (st->prev_rec_type == REC_TYPE_CONT
				|| (len > 0 && IS_BLANK(text[0])))) {
			if (st->buf.len < st->header_limit) {
				if (st->prev_rec_type != REC_TYPE_CONT)
					strbuf_putc(&st->buf, '\n');
				append_text(&st->buf, text, len);
			} else if (st->flags & MIME_OPT_REPORT_TRUNC_HEADER) {
				report(st, MIME_ERR_TRUNC_HEADER,
				       st->buf.data, st->buf.len);
			}
			return 1;
		}
		flush_header(st, len);
	}
	if (is_text && (label = header_name_len(text, len)) > 0) {
		/* "Name :" becomes "Name:". */
		strbuf_reset(&st->buf);
		strbuf_append(&st->buf, text, label);
		text += label;
		len -= label;
		while (len > 0 && IS_BLANK(*text)) {
			text++;
			len--;
		}
		append_text(&st->buf, text, len);
		return 1;
	}
	end_headers(st, is_text, len);
	return 0;
}

/* boundary_line - a body line that may start a new part or end a multipart */
static void
boundary_line(struct mime_state *st, const char *text, size_t len)
{
	struct boundary *b;

	for (b = st->stack; b; b = b->next) {
		if (len < 2 + b->len || memcmp(text + 2, b->text, b->len) != 0)
			continue;
		while (st->stack != b)
			pop(st);
		if (len >= 4 + b->len && memcmp(text + 2 + b->len, "--", 2) == 0) {
			pop(st);
			set_part(st, ST_BODY, CT_OTHER, ST_SUB_OTHER,
				 ENC_7BIT);	/* the epilogue */
		} else {
			set_part(st, ST_MULTIPART, b->part_ctype,
				 b->part_stype, ENC_7BIT);
		}
		return;
	}
}

/*
 * qp_out - encode body text as quoted-printable (RFC 2045 section 6.7).
 * Output lines are built in st->buf and passed on at a hard line break
 * (the end of a REC_TYPE_NORM record) or a soft one.
 */
static void
qp_out(struct mime_state *st, int rec_type, const char *text, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *cp = (const unsigned char *)text;
	const unsigned char *end = cp + len;
	struct strbuf *out = &st->buf;
	int ch;

#define QP_PLAIN(c) (((c) >= 32 || (c) == '\t') && (c) != '=' && (c) <= 126)
	while (cp < end) {
		if (out->len > 72) {
			strbuf_putc(out, '=');
			body_out(st, REC_TYPE_NORM, out->data, out->len);
			strbuf_reset(out);
		}
		ch = *cp;
		if (QP_PLAIN(ch)) {
			/* A run of plain bytes, up to where a soft break is due. */
			const unsigned char *run = cp;
			size_t room = 73 - out->len;

			while (cp < end && (size_t)(cp - run) < room
			       && QP_PLAIN(*cp))
				cp++;
			strbuf_append(out, run, (size_t)(cp - run));
		} else {
			char enc[3] = {'=', hex[ch >> 4], hex[ch & 0xf]};

			strbuf_append(out, enc, sizeof(enc));
			cp++;
		}
	}
#undef QP_PLAIN
	if (rec_type != REC_TYPE_NORM)
		return;
	/* Rule 3: a blank before a hard line break is encoded. */
	if (out->len > 0 && IS_BLANK(out->data[out->len - 1])) {
		ch = (unsigned char)out->data[out->len - 1];
		strbuf_truncate(out, out->len - 1);
		strbuf_putc(out, '=');
		strbuf_putc(out, hex[ch >> 4]);
		strbuf_putc(out, hex[ch & 0xf]);
	}
	body_out(st, REC_TYPE_NORM, strbuf_str(out), out->len);
	strbuf_reset(out);
}

/* body_input - a record in the body state */
static void
body_input(struct mime_state *st, int rec_type, int is_text,
	   const char *text, size_t len)
{
	if (!is_text) {
		if (st->cb.body_end)
			st->cb.body_end(st->ctx);
		return;
	}
	if ((st->flags & MIME_OPT_REPORT_8BIT_IN_7BIT_BODY)
	    && st->encoding == ENC_7BIT
	    && !(st->errs & MIME_ERR_8BIT_IN_7BIT_BODY)) {
		for (size_t i = 0; i < len; i++) {
			if ((unsigned char)text[i] & 0x80) {
				report(st, MIME_ERR_8BIT_IN_7BIT_BODY, text,
				       len);
				break;
			}
		}
	}
	if (st->stack && st->prev_rec_type != REC_TYPE_CONT && len > 2
	    && text[0] == '-' && text[1] == '-')
		boundary_line(st, text, len);
	/* The boundary line itself is in the new part's (7bit) domain. */
	if (downgrading(st))
		qp_out(st, rec_type, text, len);
	else
		body_out(st, rec_type, text, len);
}

/* mime_state_create - a parser in the primary header state */
struct mime_state *
mime_state_create(int flags, const struct mime_state_cb *cb, void *ctx)
{
	struct mime_state *st = xcalloc(1, sizeof(*st));

	set_part(st, ST_PRIMARY, CT_TEXT, ST_SUB_PLAIN, ENC_7BIT);
	strbuf_init(&st->buf, 0);
	strbuf_init(&st->tokbuf, 0);
	st->nesting = -1;	/* the first push makes it 0 */
	st->flags = flags;
	if (cb)
		st->cb = *cb;
	st->ctx = ctx;
	st->header_limit = var_header_size_limit > 0
		? (size_t)var_header_size_limit : MIME_HEADER_LIMIT_DEFAULT;
	st->nesting_limit = var_mime_nesting_limit > 0
		? var_mime_nesting_limit : 100;
	st->boundary_limit = var_mime_boundary_length_limit > 0
		? (size_t)var_mime_boundary_length_limit : 2048;
	return st;
}

/* mime_state_limits - override the safety limits of one parser */
void
mime_state_limits(struct mime_state *st, long header_limit,
		  long nesting_limit, long boundary_limit)
{
	if (header_limit > 0)
		st->header_limit = (size_t)header_limit;
	if (nesting_limit > 0)
		st->nesting_limit = nesting_limit;
	if (boundary_limit > 0)
		st->boundary_limit = (size_t)boundary_limit;
}

/* mime_state_update - process one queue-file record */
int
mime_state_update(struct mime_state *st, int rec_type, const char *text,
		  size_t len)
{
	int is_text = rec_type == REC_TYPE_NORM || rec_type == REC_TYPE_CONT;

	/* At the end, finish a line that is still open. */
	if (!is_text && st->prev_rec_type == REC_TYPE_CONT)
		mime_state_update(st, REC_TYPE_NORM, "", 0);

	if (st->state != ST_BODY
	    && header_input(st, rec_type, is_text, text, len)) {
		st->prev_rec_type = rec_type;
		return st->errs;
	}
	body_input(st, rec_type, is_text, text, len);
	st->prev_rec_type = rec_type;
	return st->errs;
}

/* mime_state_free - release a parser */
void
mime_state_free(struct mime_state *st)
{
	if (st == NULL)
		return;
	while (st->stack)
		pop(st);
	strbuf_release(&st->buf);
	strbuf_release(&st->tokbuf);
	free(st);
}

/* mime_state_detail - the most serious of a set of errors */
const struct mime_state_detail *
mime_state_detail(int errs)
{
	size_t i;

	for (i = 0; i < sizeof(details) / sizeof(details[0]); i++)
		if (details[i].code & errs)
			return &details[i];
	msg_panic("mime_state_detail: no known error in %d", errs);
}
