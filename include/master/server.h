/* server - the single-threaded server skeleton run under master(8) */
#ifndef MASTER_SERVER_H
#define MASTER_SERVER_H

#include "util/stream.h"

/*
 * The program supplies one service routine, called once per accepted
 * connection with a stream on it (ipc_timeout applies); the skeleton
 * closes the stream afterwards.  Hooks may be NULL.
 */
struct server_hooks {
	/* after main.cf and options, before privileges are dropped/chroot */
	void (*pre_init)(void);
	/* after privileges are dropped and chroot */
	void (*post_init)(void);
	/* before each accept(); may exit (e.g. a lookup table changed) */
	void (*pre_accept)(void);
	/* serve one connection */
	void (*service)(struct stream *client);
};

/* The options parsed from argv, for the program's use. */
extern const char *server_service_name;	/* -n, or basename(argv[0]) */
extern const char *server_process_name;	/* basename(argv[0]) */
extern int server_chroot;		/* -c */
extern int server_standalone;		/* -S */

void server_main(int argc, char **argv, int lmtp_mode,
		 const struct server_hooks *hooks)
	__attribute__((noreturn));

#endif
