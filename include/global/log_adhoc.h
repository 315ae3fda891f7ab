/* log_adhoc - the per-recipient delivery status log line */
#ifndef GLOBAL_LOG_ADHOC_H
#define GLOBAL_LOG_ADHOC_H

#include "global/deliver_request.h"
#include "global/dsn.h"
#include "util/strbuf.h"

void log_adhoc(const char *id, const struct msg_stats *stats,
	       const struct recipient *rcpt, const char *relay,
	       const struct dsn *dsn, const char *status);
void log_adhoc_format(struct strbuf *out, const char *id,
		      const struct msg_stats *stats,
		      const struct recipient *rcpt, const char *relay,
		      const struct dsn *dsn, const char *status,
		      const struct timeval *now);
void format_delay(struct strbuf *out, long sec, long usec, int sig_digits,
		  int max_decimals);

#endif
