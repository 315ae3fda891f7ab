/* report - per-recipient outcomes to bounce/defer/trace/verify, and the log */
#ifndef GLOBAL_REPORT_H
#define GLOBAL_REPORT_H

#include "global/deliver_request.h"
#include "global/dsn.h"

/*
 * Each function reports one recipient's outcome and logs its status=
 * line.  The return value says whether the recipient is finished: 0 means
 * the outcome was recorded and the caller must mark the recipient done
 * (deliver_completed); -1 means it stays queued (deferred, or a report
 * could not be written and the recipient was deferred instead).  The dsn
 * is not modified.  relay is "host[addr]:port" or "none".
 */
int report_sent(int flags, const char *id, struct msg_stats *stats,
		struct recipient *rcpt, const char *relay,
		const struct dsn *dsn);
int report_bounce(int flags, const char *id, struct msg_stats *stats,
		  struct recipient *rcpt, const char *relay,
		  const struct dsn *dsn);
int report_defer(int flags, const char *id, struct msg_stats *stats,
		 struct recipient *rcpt, const char *relay,
		 const struct dsn *dsn);
int report_trace(int flags, const char *id, struct msg_stats *stats,
		 struct recipient *rcpt, const char *relay,
		 const struct dsn *dsn);

/*
 * A delivery status filter (smtp_delivery_status_filter): given
 * "X.Y.Z reason", it returns "X.Y.Z new reason" or NULL (and sets *error
 * on a lookup failure).  Successes can only become successes, failures
 * only failures; a 4 turns a bounce into a deferral and a 5 the other
 * way round.
 */
typedef const char *(*report_filter_fn)(const char *key, int *error);
void report_set_status_filter(report_filter_fn fn);

/*
 * Fast flush (fast_flush_domains): after each deferral the recipient's
 * domain is offered to the match function (1 listed, 0 not, -1 lookup
 * error); a listed domain is added to flush(8)'s log for that site, so
 * that ETRN and "sendmail -qR" find the message.
 */
typedef int (*report_flush_match_fn)(const char *domain);
void report_set_flush_domains(report_flush_match_fn fn);

#endif
