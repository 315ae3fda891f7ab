/*
 * server - the single-threaded server skeleton run under master(8)
 *
 * server_main() implements the master(8) child contract: the generic
 * daemon options (cdDi:lm:n:o:r:s:St:uvVz), main.cf with -o overrides,
 * logging set-up (syslog or postlogd), the accept lock pid/<type>.<name>,
 * privilege drop to mail_owner and chroot to queue_directory, then a
 * loop that accepts one connection at a time on the inherited listen
 * sockets (fd 6 upwards), tells master TAKEN/AVAILABLE on the status
 * channel (fd 5) and calls the service routine.  It exits on max_idle,
 * max_use, EOF on the status channel (postfix reload/stop), or when the
 * watchdog (daemon_timeout per iteration) fires.  With -S it serves one
 * request on stdin/stdout and exits (for manual testing).
 *
 * Errors in configuration and set-up are fatal: master logs the exit and
 * throttles the service, and no delivery is attempted.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "global/params.h"
#include "master/server.h"
#include "util/msg.h"
#include "util/xmalloc.h"

#define MASTER_STATUS_FD	5
#define MASTER_LISTEN_FD	6
#define MASTER_STAT_TAKEN	0
#define MASTER_STAT_AVAIL	1

const char *server_service_name;
const char *server_process_name;
int server_chroot;
int server_standalone;

static unsigned master_generation;
static int have_master;

/* master_status - the raw struct master(8) reads from fd 5 */
struct master_status {
	int pid;
	unsigned gen;
	int avail;
};

/* tell_master - send TAKEN or AVAILABLE; -1 when master is gone */
static int
tell_master(int avail)
{
	struct master_status st;

	if (!have_master)
		return 0;
	memset(&st, 0, sizeof(st));
	st.pid = getpid();
	st.gen = master_generation;
	st.avail = avail;
	if (write(MASTER_STATUS_FD, &st, sizeof(st)) != sizeof(st))
		return -1;
	return 0;
}

/* watchdog - daemon_timeout expired within one loop iteration */
static void
watchdog(int sig)
{
	static const char text[] = "fatal: watchdog timeout\n";

	(void)sig;
	msg_fatal("watchdog timeout");	/* best effort; then die anyway */
	(void)write(2, text, sizeof(text) - 1);
	_exit(1);
}

/* pval - a parameter's value before the table is loaded ("" if unset) */
static const char *
pval(const char *name)
{
	const char *v = param_get(name);

	return v ? v : "";
}

/*
 * setup_logging - syslog or postlogd, with ident syslog_name/procname.
 * This runs before the parameter table is converted, so that a bad
 * parameter value is reported where the administrator looks: the
 * values used here are read directly.
 */
static void
setup_logging(void)
{
	char *ident, *log_file, *queue_dir;

	ident = xasprintf("%s/%s", pval("syslog_name"), server_process_name);
	msg_set_ident(ident);
	free(ident);
	log_file = xstrdup(pval("maillog_file"));
	if (*log_file) {
		char *path, *prefixes, *cp, *tok;
		int ok = 0;

		queue_dir = xstrdup(pval("queue_directory"));
		path = xasprintf("%s/public/%s", queue_dir,
				 pval("postlog_service_name"));
		if (msg_postlog_open(path, pval("myhostname")) < 0
		    && msg_verbose)
			msg_warn("connect to %s: %m", path);
		free(path);
		free(queue_dir);
		/* maillog_file must start with one of maillog_file_prefixes */
		prefixes = xstrdup(pval("maillog_file_prefixes"));
		for (cp = prefixes; (tok = strsep(&cp, ", \t\r\n")) != NULL;)
			if (*tok && strncmp(log_file, tok, strlen(tok)) == 0)
				ok = 1;
		free(prefixes);
		if (!ok)
			msg_fatal("maillog_file value \"%s\" does not match any "
				  "prefix in maillog_file_prefixes", log_file);
	} else {
		if (!msg_syslog_facility_ok(pval("syslog_facility")))
			msg_fatal("unknown syslog_facility value: \"%s\"",
				  pval("syslog_facility"));
		msg_syslog_open(pval("syslog_facility"));
	}
	free(log_file);
}

/* drop_privileges - setgid/initgroups, chroot, then setuid, in that order */
static void
drop_privileges(int do_unpriv)
{
	struct passwd *pw = NULL;

	if (do_unpriv) {
		if ((pw = getpwnam(var_mail_owner)) == NULL)
			msg_fatal("unknown mail_owner user: \"%s\"",
				  var_mail_owner);
		if (pw->pw_uid == 0)
			msg_fatal("mail_owner \"%s\" has privileged user ID",
				  var_mail_owner);
		if (setgid(pw->pw_gid) < 0)
			msg_fatal("setgid(%ld): %m", (long)pw->pw_gid);
		if (initgroups(var_mail_owner, pw->pw_gid) < 0)
			msg_fatal("initgroups: %m");
	}
	if (server_chroot) {
		if (chroot(var_queue_directory) < 0)
			msg_fatal("chroot(%s): %m", var_queue_directory);
		if (chdir("/") < 0)
			msg_fatal("chdir(/): %m");
	}
	if (pw && setuid(pw->pw_uid) < 0)
		msg_fatal("setuid(%ld): %m", (long)pw->pw_uid);
}

/* serve_one - one connection, with master bookkeeping around it */
static void
serve_one(const struct server_hooks *hooks, int fd)
{
	struct stream *client;

	if (tell_master(MASTER_STAT_TAKEN) < 0)
		msg_fatal("master status update: %m");
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	client = stream_fdopen(fd);
	stream_set_timeout(client, var_ipc_timeout);
	hooks->service(client);
	stream_close(client);
	if (tell_master(MASTER_STAT_AVAIL) < 0)
		exit(0);	/* master went away */
}

/* accept_one - accept on a readable listen socket, under the lock */
static int
accept_one(int listen_fd, int lock_fd)
{
	int fd;

	if (lock_fd >= 0) {
		alarm(0);	/* no watchdog while we wait for siblings */
		if (flock(lock_fd, LOCK_EX) < 0)
			msg_fatal("lock accept lock file: %m");
		alarm(var_daemon_timeout);
	}
	fd = accept(listen_fd, NULL, NULL);
	if (lock_fd >= 0 && flock(lock_fd, LOCK_UN) < 0)
		msg_fatal("unlock accept lock file: %m");
	if (fd < 0 && errno != EAGAIN && errno != EINTR
	    && errno != ECONNABORTED && errno != EWOULDBLOCK)
		msg_warn("accept connection: %m");
	return fd;
}

/* usage_fatal - bad command line */
static void __attribute__((noreturn))
usage_fatal(const char *prog)
{
	msg_fatal("usage: %s [-cdDlSuvVz] [-i max_idle] [-m max_use] "
		  "[-n service] [-o name=value] [-s sockets] [-t type]", prog);
}

/* server_main - run the daemon; never returns */
void
server_main(int argc, char **argv, int lmtp_mode,
	    const struct server_hooks *hooks)
{
	const char *config_dir;
	const char *gen;
	char *prog = xstrdup(argv[0]);
	int ch, i, sockets = 1, unpriv = 0, lock_fd = -1, alone = 0;
	int idle_override = -1, use_override = -1, use_count = 0;
	char *transport = xstrdup("unix");
	char *lock_path;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN);
	server_process_name = xstrdup(basename(prog));
	free(prog);
	msg_set_ident(getenv("MAIL_LOGTAG") ? getenv("MAIL_LOGTAG")
		      : "postfix");
	if (isatty(2))
		msg_stderr_enable(1);
	if (getenv("MAIL_VERBOSE"))
		msg_verbose = 1;

	if ((config_dir = getenv("MAIL_CONFIG")) == NULL || !*config_dir)
		config_dir = "/etc/postfix";
	params_read_main_cf(config_dir);
	params_set("config_directory", config_dir);

	opterr = 0;
	while ((ch = getopt(argc, argv, "cdDi:lm:n:o:r:s:St:uvVz")) != -1) {
		switch (ch) {
		case 'c':
			server_chroot = 1;
			break;
		case 'd':
		case 'D':
		case 'z':
			break;	/* foreground / debugger / unlimited */
		case 'i':
			idle_override = atoi(optarg);
			break;
		case 'l':
			alone = 1;
			break;
		case 'm':
			use_override = atoi(optarg);
			break;
		case 'n':
			server_service_name = xstrdup(optarg);
			break;
		case 'o':
			params_override(optarg);
			break;
		case 'r':
			break;	/* retirement: not used by this service */
		case 's':
			if ((sockets = atoi(optarg)) <= 0)
				msg_fatal("invalid socket count: %s", optarg);
			break;
		case 'S':
			server_standalone = 1;
			break;
		case 't':
			free(transport);
			transport = xstrdup(optarg);
			break;
		case 'u':
			unpriv = 1;
			break;
		case 'v':
			msg_verbose++;
			break;
		case 'V':
			msg_stderr_enable(1);
			break;
		default:
			usage_fatal(argv[0]);
		}
	}
	if (server_service_name == NULL)
		server_service_name = server_process_name;
	params_set("service_name", server_service_name);
	params_set("process_name", server_process_name);
	setup_logging();
	params_load(lmtp_mode);
	if (idle_override >= 0)
		var_max_idle = idle_override;
	if (use_override >= 0)
		var_max_use = use_override;

	if ((gen = getenv("GENERATION")) != NULL)
		master_generation = (unsigned)strtoul(gen, NULL, 8);
	have_master = !server_standalone
	    && fcntl(MASTER_STATUS_FD, F_GETFD) >= 0;
	if (!server_standalone && strcmp(transport, "unix") != 0
	    && strcmp(transport, "inet") != 0
	    && strcmp(transport, "pass") != 0)
		msg_fatal("unsupported transport type: %s", transport);

	/* The accept lock serializes accept() among sibling processes. */
	if (!alone && !server_standalone) {
		lock_path = xasprintf("%s/%s/%s.%s", var_queue_directory,
				      var_process_id_directory, transport,
				      server_service_name);
		lock_fd = open(lock_path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
		if (lock_fd < 0)
			msg_fatal("open lock file %s: %m", lock_path);
		free(lock_path);
	}
	if (chdir(var_queue_directory) < 0)
		msg_fatal("chdir(\"%s\"): %m", var_queue_directory);
	if (hooks->pre_init)
		hooks->pre_init();
	tzset();
	drop_privileges(unpriv);
	if (hooks->post_init)
		hooks->post_init();

	if (server_standalone) {
		struct stream *client = stream_fdopen(0);

		stream_set_timeout(client, var_ipc_timeout);
		hooks->service(client);
		stream_free(client);
		exit(0);
	}
	for (i = 0; i < sockets; i++)
		(void)fcntl(MASTER_LISTEN_FD + i, F_SETFD, FD_CLOEXEC);
	if (have_master)
		(void)fcntl(MASTER_STATUS_FD, F_SETFD, FD_CLOEXEC);
	(void)fcntl(3, F_SETFD, FD_CLOEXEC);
	(void)fcntl(4, F_SETFD, FD_CLOEXEC);

	signal(SIGALRM, watchdog);
	for (;;) {
		struct pollfd pfd[64];
		int n, nfds = 0;

		if (sockets > 63)
			msg_fatal("too many listen sockets: %d", sockets);
		alarm(var_daemon_timeout);
		if (hooks->pre_accept)
			hooks->pre_accept();
		for (i = 0; i < sockets; i++) {
			pfd[nfds].fd = MASTER_LISTEN_FD + i;
			pfd[nfds++].events = POLLIN;
		}
		if (have_master) {
			pfd[nfds].fd = MASTER_STATUS_FD;
			pfd[nfds++].events = POLLIN;
		}
		alarm(0);
		n = poll(pfd, (nfds_t)nfds,
			 var_max_idle > 0 ? var_max_idle * 1000 : -1);
		alarm(var_daemon_timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			msg_fatal("poll: %m");
		}
		if (n == 0)
			exit(0);	/* max_idle */
		if (have_master && pfd[nfds - 1].revents)
			exit(0);	/* master closed the status channel */
		for (i = 0; i < sockets; i++) {
			int fd;

			if (!pfd[i].revents)
				continue;
			if ((fd = accept_one(pfd[i].fd, lock_fd)) < 0)
				continue;
			serve_one(hooks, fd);
			use_count++;
			if (var_max_use > 0 && use_count >= var_max_use)
				exit(0);
			break;
		}
	}
}
