/*
 * log_adhoc - the per-recipient delivery status log line
 *
 * log_adhoc() logs, at info level, the line every Postfix administrator
 * knows:
 *
 *   ID: to=<rcpt>[, orig_to=<orig>], relay=R[, conn_use=N], delay=D,
 *   delays=a/b/c/d, dsn=X.Y.Z, status=WORD (reason)
 *
 * log_adhoc_format() builds it (for tests, with an explicit "now").
 * format_delay() prints a duration the way Postfix does: whole seconds
 * from 10 s up, one decimal from 1 s to 10 s, otherwise sig_digits
 * significant digits but at most max_decimals decimals, rounded half up,
 * with trailing zeros dropped.
 */
#include <strings.h>
#include <sys/time.h>

#include "global/log_adhoc.h"
#include "global/params.h"
#include "global/quote_addr.h"
#include "util/msg.h"

#define MILLION	1000000L

/* format_delay - print a duration, Postfix style */
void
format_delay(struct strbuf *out, long sec, long usec, int sig_digits,
	     int max_decimals)
{
	long unit;		/* resolution in microseconds */
	long span = 1;		/* 10^sig_digits */
	long top = 1;

	if (max_decimals < 0)
		max_decimals = 0;
	if (max_decimals > 6)
		max_decimals = 6;
	if (sig_digits < 1)
		sig_digits = 1;
	if (sig_digits > 6)
		sig_digits = 6;
	if (sec < 0 || usec < 0) {
		sec = 0;
		usec = 0;
	}
	for (int i = 0; i < sig_digits; i++)
		span *= 10;
	unit = MILLION;
	for (int i = 0; i < max_decimals; i++)
		unit /= 10;

	if (unit < MILLION) {
		if (sec > 0) {
			/* each whole-second digit costs one decimal */
			while (sec >= top && top <= span / 10)
				top *= 10;
			unit = (MILLION / span) * top;
		} else {
			/* below one second: keep sig_digits digits */
			while (usec >= span * unit)
				unit *= 10;
		}
	}
	if (unit > 1) {
		usec += unit / 2;
		if (usec >= MILLION) {
			sec += 1;
			usec -= MILLION;
		}
	}
	strbuf_printf(out, "%ld", sec);
	if (usec >= unit) {
		long rest = usec;

		strbuf_putc(out, '.');
		for (long place = MILLION / 10; rest >= unit && place > 0;
		     place /= 10) {
			strbuf_putc(out, (int)('0' + rest / place));
			rest %= place;
		}
	}
}

/* delta - later minus earlier, clamped at zero */
static struct timeval
delta(struct timeval later, struct timeval earlier)
{
	struct timeval d;

	d.tv_sec = later.tv_sec - earlier.tv_sec;
	d.tv_usec = later.tv_usec - earlier.tv_usec;
	while (d.tv_usec < 0) {
		d.tv_usec += MILLION;
		d.tv_sec -= 1;
	}
	while (d.tv_usec >= MILLION) {
		d.tv_usec -= MILLION;
		d.tv_sec += 1;
	}
	if (d.tv_sec < 0)
		d.tv_sec = d.tv_usec = 0;
	return d;
}

#define STAMPED(tv)	((tv).tv_sec > 0)

/* log_adhoc_format - build the status line */
void
log_adhoc_format(struct strbuf *out, const char *id,
		 const struct msg_stats *stats, const struct recipient *rcpt,
		 const char *relay, const struct dsn *dsn, const char *status,
		 const struct timeval *now_in)
{
	struct timeval now = *now_in, zero = { 0, 0 };
	struct timeval total, a, b = zero, c = zero, d = zero;
	const struct timeval *parts[4] = { &a, &b, &c, &d };

	strbuf_printf(out, "%s: to=<", id);
	log_address(out, rcpt->address);
	strbuf_putc(out, '>');
	if (rcpt->orig_addr && *rcpt->orig_addr
	    && strcasecmp(rcpt->address, rcpt->orig_addr) != 0) {
		strbuf_puts(out, ", orig_to=<");
		log_address(out, rcpt->orig_addr);
		strbuf_putc(out, '>');
	}
	strbuf_printf(out, ", relay=%s", relay);
	if (stats->reuse_count > 0)
		strbuf_printf(out, ", conn_use=%d", stats->reuse_count + 1);

	if (STAMPED(stats->deliver_done))
		now = stats->deliver_done;
	total = delta(now, stats->incoming_arrival);
	if (STAMPED(stats->active_arrival)) {
		a = delta(stats->active_arrival, stats->incoming_arrival);
		if (STAMPED(stats->agent_handoff)) {
			b = delta(stats->agent_handoff, stats->active_arrival);
			if (STAMPED(stats->conn_setup_done)) {
				c = delta(stats->conn_setup_done,
					  stats->agent_handoff);
				d = delta(now, stats->conn_setup_done);
			} else {
				d = delta(now, stats->agent_handoff);
			}
		} else {
			b = delta(now, stats->active_arrival);
		}
	} else {
		a = delta(now, stats->incoming_arrival);
	}
	strbuf_puts(out, ", delay=");
	format_delay(out, total.tv_sec, total.tv_usec, 2,
		     var_delay_logging_resolution_limit);
	for (int i = 0; i < 4; i++) {
		strbuf_puts(out, i ? "/" : ", delays=");
		format_delay(out, parts[i]->tv_sec, parts[i]->tv_usec, 2,
			     var_delay_logging_resolution_limit);
	}
	strbuf_printf(out, ", dsn=%s, status=%s (%s)", dsn->status, status,
		      dsn->reason);
}

/* log_adhoc - log the status line */
void
log_adhoc(const char *id, const struct msg_stats *stats,
	  const struct recipient *rcpt, const char *relay,
	  const struct dsn *dsn, const char *status)
{
	struct strbuf line = STRBUF_INIT;
	struct timeval now;

	gettimeofday(&now, NULL);
	log_adhoc_format(&line, id, stats, rcpt, relay, dsn, status, &now);
	msg_info("%s", strbuf_str(&line));
	strbuf_release(&line);
}
