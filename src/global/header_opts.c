/*
 * header_opts - what the mail system knows about a message header name
 *
 * header_opts_find() classifies a header by its name (case-insensitive,
 *	trailing blanks before the colon ignored).
 * header_name_len() says whether a line starts a header and how long its
 *	label is.
 *
 * The table is Postfix 3.7's list of header names with special meaning;
 * the type codes and flags are the same, so that code ported from the
 * Postfix interfaces (header checks, generic address rewriting) keys on
 * the same facts.  Postfix also enters the names in message_drop_headers
 * with only the "drop" flag; that flag matters to cleanup(8), never to
 * the delivery agent, so those names are not entered here.
 *
 * SEE ALSO
 *	mime_state(3), RFC 5322
 */
#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "global/header_opts.h"

/* Sorted by name, case-insensitively, for bsearch(). */
static const struct header_opts table[] = {
	{"Apparently-To", HDR_APPARENTLY_TO, HDR_OPT_RECIP},
	{"Bcc", HDR_BCC, HDR_OPT_XRECIP},
	{"Cc", HDR_CC, HDR_OPT_XRECIP},
	{"Content-Description", HDR_CONTENT_DESCRIPTION, HDR_OPT_MIME},
	{"Content-Disposition", HDR_CONTENT_DISPOSITION, HDR_OPT_MIME},
	{"Content-ID", HDR_CONTENT_ID, HDR_OPT_MIME},
	{"Content-Length", HDR_CONTENT_LENGTH, 0},
	{"Content-Transfer-Encoding", HDR_CONTENT_TRANSFER_ENCODING,
	 HDR_OPT_MIME},
	{"Content-Type", HDR_CONTENT_TYPE, HDR_OPT_MIME},
	{"Date", HDR_DATE, 0},
	{"Delivered-To", HDR_DELIVERED_TO, 0},
	{"Disposition-Notification-To", HDR_DISP_NOTIFICATION,
	 HDR_OPT_SENDER},
	{"Errors-To", HDR_ERRORS_TO, HDR_OPT_SENDER},
	{"From", HDR_FROM, HDR_OPT_SENDER},
	{"Mail-Followup-To", HDR_MAIL_FOLLOWUP_TO, HDR_OPT_SENDER},
	{"Message-Id", HDR_MESSAGE_ID, 0},
	{"MIME-Version", HDR_MIME_VERSION, HDR_OPT_MIME},
	{"Received", HDR_RECEIVED, 0},
	{"Reply-To", HDR_REPLY_TO, HDR_OPT_SENDER},
	{"Resent-Bcc", HDR_RESENT_BCC, HDR_OPT_XRECIP | HDR_OPT_RR},
	{"Resent-Cc", HDR_RESENT_CC, HDR_OPT_XRECIP | HDR_OPT_RR},
	{"Resent-Date", HDR_RESENT_DATE, HDR_OPT_RR},
	{"Resent-From", HDR_RESENT_FROM, HDR_OPT_SENDER | HDR_OPT_RR},
	{"Resent-Message-Id", HDR_RESENT_MESSAGE_ID, HDR_OPT_RR},
	{"Resent-Reply-To", HDR_RESENT_REPLY_TO, HDR_OPT_RECIP | HDR_OPT_RR},
	{"Resent-Sender", HDR_RESENT_SENDER, HDR_OPT_SENDER | HDR_OPT_RR},
	{"Resent-To", HDR_RESENT_TO, HDR_OPT_XRECIP | HDR_OPT_RR},
	{"Return-Path", HDR_RETURN_PATH, HDR_OPT_SENDER},
	{"Return-Receipt-To", HDR_RETURN_RECEIPT_TO, HDR_OPT_SENDER},
	{"Sender", HDR_SENDER, HDR_OPT_SENDER},
	{"To", HDR_TO, HDR_OPT_XRECIP},
};

#define TABLE_SIZE (sizeof(table) / sizeof(table[0]))

/* The longest name in the table, plus one. */
#define NAME_MAX_LEN 32

struct key {
	const char *name;
	size_t len;
};

/* compare - bsearch() order: case-insensitive, shorter name first on a tie */
static int
compare(const void *k, const void *e)
{
	const struct key *key = k;
	const struct header_opts *row = e;
	size_t rlen = strlen(row->name);
	size_t n = key->len < rlen ? key->len : rlen;
	int cmp = strncasecmp(key->name, row->name, n);

	if (cmp != 0)
		return cmp;
	return key->len < rlen ? -1 : key->len > rlen ? 1 : 0;
}

/* header_opts_find - classify a header by its name */
const struct header_opts *
header_opts_find(const char *header)
{
	const char *colon = strchr(header, ':');
	struct key key;

	if (colon == NULL)
		return NULL;
	key.name = header;
	key.len = (size_t)(colon - header);
	while (key.len > 0 && (header[key.len - 1] == ' '
			       || header[key.len - 1] == '\t'))
		key.len--;
	if (key.len == 0 || key.len >= NAME_MAX_LEN)
		return NULL;
	return bsearch(&key, table, TABLE_SIZE, sizeof(table[0]), compare);
}

/* header_name_len - label length if buf starts a header, else 0 */
size_t
header_name_len(const char *buf, size_t len)
{
	size_t i, label = 0;
	int blanks = 0;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if (ch == ':')
			return label;
		if (ch == ' ' || ch == '\t') {
			/* Blanks may follow the label, never start it. */
			if (label == 0)
				return 0;
			blanks = 1;
			continue;
		}
		/* NUL, 8-bit and control characters end the search. */
		if (ch == 0 || ch > 126 || iscntrl(ch) || blanks)
			return 0;
		label++;
	}
	return 0;
}
