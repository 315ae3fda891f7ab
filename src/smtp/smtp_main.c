/*
 * postern-smtp, postern-lmtp - Postfix-compatible SMTP+LMTP delivery agent
 *
 * The program runs under master(8), takes delivery requests from
 * qmgr(8), delivers each to its next hop and reports every recipient's
 * outcome to the bounce, defer, trace or verify service before it
 * answers the queue manager.  The name it is started under picks the
 * personality: "smtp" or "postern-smtp" speaks SMTP and reads smtp_*
 * parameters; "lmtp" or "postern-lmtp" speaks LMTP and reads lmtp_*.
 *
 * See man/postern-smtp.8.
 */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "global/deliver_request.h"
#include "global/params.h"
#include "master/server.h"
#include "smtp.h"
#include "util/msg.h"
#include "util/xmalloc.h"

/* pre_init - tables, settings and other things before the chroot */
static void
pre_init(void)
{
	smtp_maps_init();
	smtp_reuse_init();
	smtp_chat_init();
}

/* deliver - one request, start to end */
static int
deliver(struct deliver_request *req)
{
	struct smtp_state state;
	int status;

	memset(&state, 0, sizeof(state));
	state.req = req;
	state.lmtp = smtp_lmtp_mode;
	state.rcpt_state = xcalloc((size_t)req->rcpt_count,
				   sizeof(*state.rcpt_state));
	state.rcpt_left = req->rcpt_count;
	smtp_connect(&state);
	smtp_reuse_state_free(&state);
	smtp_reuse_request_done();
	if (state.rcpt_left > 0)
		msg_panic("%s: %d recipients left unreported", req->queue_id,
			  state.rcpt_left);
	status = state.status ? DEL_STAT_DEFER : DEL_STAT_FINAL;
	dsn_free(state.why);
	free(state.rcpt_state);
	return status;
}

/* smtp_service - serve one connection from the queue manager */
static void
smtp_service(struct stream *client)
{
	struct deliver_request *req;

	if ((req = deliver_request_read(client)) == NULL)
		return;
	deliver_request_done(client, req, deliver(req));
}

/* personality - SMTP (0) or LMTP (1) from the program name */
static int
personality(const char *argv0)
{
	char *copy = xstrdup(argv0);
	const char *name = basename(copy);
	int lmtp = -1;

	if (strcmp(name, "smtp") == 0 || strcmp(name, "postern-smtp") == 0)
		lmtp = 0;
	else if (strcmp(name, "lmtp") == 0
		 || strcmp(name, "postern-lmtp") == 0)
		lmtp = 1;
	if (lmtp < 0)
		msg_fatal("unexpected command name: %s (expected smtp, lmtp, "
			  "postern-smtp or postern-lmtp)", name);
	free(copy);
	return lmtp;
}

int
main(int argc, char **argv)
{
	static const struct server_hooks hooks = {
		.pre_init = pre_init,
		.pre_accept = smtp_maps_pre_accept,
		.service = smtp_service,
	};

	if (argc < 1 || argv[0] == NULL)
		msg_fatal("no program name");
	smtp_lmtp_mode = personality(argv[0]);
	server_main(argc, argv, smtp_lmtp_mode, &hooks);
}
