/*
 * msg - diagnostics to syslog, postlogd(8) or stderr
 *
 * msg_info(), msg_warn(), msg_error(), msg_fatal() and msg_panic() format
 * one line and send it to every active output.  Severity words follow
 * Postfix ("warning: ", "error: ", "fatal: ", "panic: "; nothing for info)
 * because administrators parse these logs.
 *
 * Outputs: stderr (msg_stderr_enable), syslog(3) with the ident and a
 * facility (msg_syslog_open), and the postlogd(8) datagram socket
 * (msg_postlog_open), which receives the whole line including time stamp,
 * host name and ident, as postlogd writes it to maillog_file verbatim.
 * A failed postlog connect is retried before each later line; a failed
 * send loses the line, as with Postfix.
 *
 * msg_fatal() exits with status 1; msg_panic() aborts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "util/msg.h"

#define MSG_TEXT_MAX	2000	/* postlogd truncates there too */

int msg_verbose;
int msg_fatal_delay = 1;

static char ident[256] = "postfix";
static int to_stderr;
static int to_syslog;
static int postlog_fd = -1;
static char postlog_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static char postlog_host[256];
static void (*cleanup_fn)(void);
static int in_fatal;

static const struct facility {
	const char *name;
	int value;
} facilities[] = {
	{"auth", LOG_AUTH}, {"authpriv", LOG_AUTHPRIV}, {"cron", LOG_CRON},
	{"daemon", LOG_DAEMON}, {"ftp", LOG_FTP}, {"kern", LOG_KERN},
	{"lpr", LOG_LPR}, {"mail", LOG_MAIL}, {"news", LOG_NEWS},
	{"syslog", LOG_SYSLOG}, {"user", LOG_USER}, {"uucp", LOG_UUCP},
	{"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},
	{"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
	{"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7}, {NULL, 0},
};

/* facility_lookup - syslog facility code by name, -1 if unknown */
static int
facility_lookup(const char *name)
{
	const struct facility *f;

	for (f = facilities; f->name; f++)
		if (strcasecmp(f->name, name) == 0)
			return f->value;
	return -1;
}

/* msg_syslog_facility_ok - is this a facility name we know */
int
msg_syslog_facility_ok(const char *name)
{
	return facility_lookup(name) >= 0;
}

/* msg_set_ident - set the program identity, e.g. "postfix/smtp" */
void
msg_set_ident(const char *id)
{
	snprintf(ident, sizeof(ident), "%s", id);
	if (to_syslog) {
		closelog();
		to_syslog = 0;
	}
}

/* msg_get_ident - the current identity */
const char *
msg_get_ident(void)
{
	return ident;
}

/* msg_stderr_enable - copy every line to stderr */
void
msg_stderr_enable(int on)
{
	to_stderr = on;
}

/* msg_syslog_open - log through syslog(3) with this facility */
void
msg_syslog_open(const char *facility_name)
{
	int fac = facility_lookup(facility_name);

	if (fac < 0)
		fac = LOG_MAIL;
	openlog(ident, LOG_PID | LOG_NDELAY, fac);
	to_syslog = 1;
}

/* postlog_connect - (re)connect the datagram socket */
static int
postlog_connect(void)
{
	struct sockaddr_un sun;
	int fd;

	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", postlog_path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	postlog_fd = fd;
	return 0;
}

/* msg_postlog_open - log through postlogd(8) at path */
int
msg_postlog_open(const char *path, const char *hostname)
{
	const char *dot;
	size_t n;

	if (strlen(path) >= sizeof(postlog_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	snprintf(postlog_path, sizeof(postlog_path), "%s", path);
	/* postlogd lines carry the first label of the host name */
	dot = strchr(hostname, '.');
	n = dot ? (size_t)(dot - hostname) : strlen(hostname);
	if (n >= sizeof(postlog_host))
		n = sizeof(postlog_host) - 1;
	memcpy(postlog_host, hostname, n);
	postlog_host[n] = 0;
	if (postlog_fd >= 0) {
		close(postlog_fd);
		postlog_fd = -1;
	}
	return postlog_connect();
}

/* msg_postlog_close - stop logging through postlogd */
void
msg_postlog_close(void)
{
	if (postlog_fd >= 0)
		close(postlog_fd);
	postlog_fd = -1;
	postlog_path[0] = 0;
}

/* msg_postlog_active - is postlogd logging configured */
int
msg_postlog_active(void)
{
	return postlog_path[0] != 0;
}

/* msg_set_cleanup - run fn once before a fatal exit */
void
msg_set_cleanup(void (*fn)(void))
{
	cleanup_fn = fn;
}

/* emit - send one formatted line to every output */
static void
emit(int prio, const char *level, const char *fmt, va_list ap)
{
	char text[MSG_TEXT_MAX + 1];
	int saved_errno = errno;

	vsnprintf(text, sizeof(text), fmt, ap);
	/* Log lines are single lines: control characters would split them. */
	for (char *cp = text; *cp; cp++)
		if ((unsigned char)*cp < 0x20 && *cp != '\t')
			*cp = '?';

	if (to_stderr)
		fprintf(stderr, "%s: %s%s\n", ident, level, text);
	if (postlog_path[0]) {
		char line[MSG_TEXT_MAX + 600];
		char stamp[64];
		time_t now = time(NULL);
		struct tm tm;
		int n;

		localtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%b %d %H:%M:%S", &tm);
		n = snprintf(line, sizeof(line), "%s %s %s[%ld]: %s%s", stamp,
			     postlog_host, ident, (long)getpid(), level, text);
		if (n > (int)sizeof(line) - 1)
			n = (int)sizeof(line) - 1;
		if (postlog_fd < 0)
			postlog_connect();
		if (postlog_fd >= 0)
			(void)send(postlog_fd, line, (size_t)n, 0);
	} else if (to_syslog) {
		syslog(prio, "%s%s", level, text);
	}
	errno = saved_errno;
}

void
msg_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(LOG_INFO, "", fmt, ap);
	va_end(ap);
}

void
msg_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(LOG_WARNING, "warning: ", fmt, ap);
	va_end(ap);
}

void
msg_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(LOG_ERR, "error: ", fmt, ap);
	va_end(ap);
}

void
msg_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(LOG_CRIT, "fatal: ", fmt, ap);
	va_end(ap);
	if (!in_fatal++ && cleanup_fn)
		cleanup_fn();
	sleep((unsigned)msg_fatal_delay); /* like Postfix: slow a respawn loop */
	exit(1);
}

void
msg_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emit(LOG_CRIT, "panic: ", fmt, ap);
	va_end(ap);
	if (!in_fatal++ && cleanup_fn)
		cleanup_fn();
	abort();
}
