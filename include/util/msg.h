/* msg - diagnostics to syslog, postlogd(8) or stderr */
#ifndef UTIL_MSG_H
#define UTIL_MSG_H

#include <stdarg.h>

extern int msg_verbose;
/* Seconds msg_fatal() sleeps before exit, as Postfix does (default 1);
 * unit tests that provoke fatal errors in a child set 0. */
extern int msg_fatal_delay;

void msg_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void msg_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void msg_panic(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

/* Where lines go.  Any combination may be active. */
void msg_set_ident(const char *ident);
const char *msg_get_ident(void);
void msg_stderr_enable(int on);
void msg_syslog_open(const char *facility_name);
int msg_syslog_facility_ok(const char *facility_name);
int msg_postlog_open(const char *path, const char *hostname);
void msg_postlog_close(void);
int msg_postlog_active(void);

/* Called once before a fatal exit (e.g. to tell master we're gone). */
void msg_set_cleanup(void (*fn)(void));

#endif
