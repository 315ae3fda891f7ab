/* post_mail - submit a new message to the cleanup(8) service */
#ifndef GLOBAL_POST_MAIL_H
#define GLOBAL_POST_MAIL_H

#include <time.h>

#include "util/stream.h"

/* Where a message comes from (Postfix's mail source classes). */
#define MAIL_SRC_MASK_SENDMAIL	(1 << 0)
#define MAIL_SRC_MASK_SMTPD	(1 << 1)
#define MAIL_SRC_MASK_QMQPD	(1 << 2)
#define MAIL_SRC_MASK_FORWARD	(1 << 3)
#define MAIL_SRC_MASK_BOUNCE	(1 << 4)
#define MAIL_SRC_MASK_NOTIFY	(1 << 5)	/* postmaster notices */
#define MAIL_SRC_MASK_VERIFY	(1 << 6)

/* Flags of a cleanup(8) request (cleanup_user.h facts). */
#define CLEANUP_FLAG_FILTER	(1 << 1)	/* header/body checks */
#define CLEANUP_FLAG_MAP_OK	(1 << 5)	/* address mapping allowed */
#define CLEANUP_FLAG_MILTER	(1 << 6)	/* Milter applications */
#define CLEANUP_FLAG_AUTOUTF8	(1 << 9)	/* detect SMTPUTF8 */

/* The final status: 0 accepted; this bit for a failure on our side. */
#define CLEANUP_STAT_WRITE	(1 << 1)

/*
 * post_mail_fopen_nowait() connects to public/$cleanup_service_name
 * (relative to the queue directory, so it works chrooted), reads the
 * server's announcement and new queue id, sends the request flags for
 * the source class, and writes the envelope (sender, one recipient) and
 * the Received: and Date: headers.  It returns NULL, after logging a
 * warning, when cleanup cannot be reached or the handshake fails; errno
 * then describes the trouble when there was a system error (else it is
 * EPROTO).
 *
 * post_mail_fprintf() and post_mail_fputs() add one line of message
 * content each (headers, a blank line, the body); they return 0, or
 * CLEANUP_STAT_WRITE once the stream has failed.
 *
 * post_mail_fclose() ends the message (only when nothing failed before),
 * reads cleanup's verdict, closes the stream and returns the status:
 * 0 when cleanup queued the message.
 */
struct stream *post_mail_fopen_nowait(const char *sender,
				      const char *recipient,
				      int source_class, int trace_flags);
int post_mail_fprintf(struct stream *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int post_mail_fputs(struct stream *s, const char *line);
int post_mail_fclose(struct stream *s);

/* post_mail_date - "Wed, 25 Nov 2026 10:00:00 +0000 (UTC)" (static) */
const char *post_mail_date(time_t when);

#endif
