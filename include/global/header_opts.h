/* header_opts - what the mail system knows about a message header name */
#ifndef GLOBAL_HEADER_OPTS_H
#define GLOBAL_HEADER_OPTS_H

/*
 * One row per header name that Postfix 3.7 treats specially (its
 * header_opts table), with the same type codes and flags, so that header
 * checks and address rewriting can key on them.  HDR_OPT_MIME marks the
 * headers that smtp_mime_header_checks (not smtp_header_checks) sees.
 */
struct header_opts {
	const char *name;	/* preferred capitalisation */
	int type;		/* HDR_* below */
	int flags;		/* HDR_OPT_* below */
};

#define HDR_OTHER			0
#define HDR_APPARENTLY_TO		1
#define HDR_BCC				2
#define HDR_CC				3
#define HDR_CONTENT_LENGTH		4
#define HDR_CONTENT_TRANSFER_ENCODING	5
#define HDR_CONTENT_TYPE		6
#define HDR_DATE			7
#define HDR_DELIVERED_TO		8
#define HDR_ERRORS_TO			9
#define HDR_FROM			10
#define HDR_MESSAGE_ID			11
#define HDR_RECEIVED			12
#define HDR_REPLY_TO			13
#define HDR_RESENT_BCC			14
#define HDR_RESENT_CC			15
#define HDR_RESENT_DATE			16
#define HDR_RESENT_FROM			17
#define HDR_RESENT_MESSAGE_ID		18
#define HDR_RESENT_REPLY_TO		19
#define HDR_RESENT_SENDER		20
#define HDR_RESENT_TO			21
#define HDR_RETURN_PATH			22
#define HDR_RETURN_RECEIPT_TO		23
#define HDR_SENDER			24
#define HDR_TO				25
#define HDR_MAIL_FOLLOWUP_TO		26
#define HDR_CONTENT_DESCRIPTION		27
#define HDR_CONTENT_DISPOSITION		28
#define HDR_CONTENT_ID			29
#define HDR_MIME_VERSION		30
#define HDR_DISP_NOTIFICATION		31

#define HDR_OPT_DROP	(1 << 0)	/* cleanup deletes it */
#define HDR_OPT_SENDER	(1 << 1)	/* holds sender addresses */
#define HDR_OPT_RECIP	(1 << 2)	/* holds recipient addresses */
#define HDR_OPT_RR	(1 << 3)	/* a Resent- header */
#define HDR_OPT_EXTRACT	(1 << 4)	/* sendmail -t extracts from it */
#define HDR_OPT_MIME	(1 << 5)	/* a MIME header */
#define HDR_OPT_XRECIP	(HDR_OPT_RECIP | HDR_OPT_EXTRACT)

/*
 * header_opts_find() looks up the name of "Name: value" or "Name : value"
 * text (everything before the first colon, trailing blanks ignored, case
 * ignored).  NULL if the name is not special or there is no colon.
 */
const struct header_opts *header_opts_find(const char *header);

/*
 * header_name_len() is the length of the header label at the start of
 * buf[0..len-1] when that text is a header: label characters (printable
 * ASCII other than space and colon), optional blanks, then a colon.
 * 0 when it is not a header.  RFC 5322 section 3.6.8 and the obsolete
 * "name : value" form of section 4.5.
 */
size_t header_name_len(const char *buf, size_t len);

#endif
