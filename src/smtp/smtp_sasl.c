/*
 * smtp_sasl - SMTP AUTH (RFC 4954) on top of the SASL client glue
 *
 *   smtp_sasl_init()          pre_init: password tables, libsasl2, the
 *                             mechanism filter, the failure cache
 *   smtp_sasl_helo_auth()     an EHLO "AUTH mech ..." line
 *   smtp_sasl_helo_login()    after EHLO: find credentials, authenticate
 *   smtp_sasl_cleanup()       per-session state, wiped
 *   smtp_sasl_passwd_find()   the credential lookup (also for unit tests)
 *   smtp_sasl_sender_dependent()  credentials are looked up by sender
 *   smtp_sasl_key_sender(), smtp_sasl_key_host()  what the connection
 *                             cache keys must include (see smtp.h)
 *
 * As in Postfix 3.7: a server that announces AUTH is authenticated to
 * only when smtp_sasl_password_maps has credentials for it; none means
 * mail goes out unauthenticated.  Credentials exist but authentication
 * fails: the session ends, and the recipients wait for the next server
 * (or are deferred, or bounced when the server said 5xx and
 * smtp_sasl_auth_soft_bounce is off).
 *
 * Secrets: the password and every client response (base64 carrying the
 * password) are never logged, at any verbosity; Postfix's verbose logs
 * show them, ours write "********" instead.  That is the one deliberate
 * difference in log text.
 *
 * TLS: smtp_sasl_helo_login() takes the connection's protection
 * (SMTP_SASL_CLEAR, _TLS, _TLS_VERIFIED) and picks
 * smtp_sasl_security_options, smtp_sasl_tls_security_options or
 * smtp_sasl_tls_verified_security_options accordingly.  After STARTTLS
 * the TLS code calls smtp_sasl_cleanup() and EHLO runs again.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "global/params.h"
#include "maps/maps.h"
#include "master/server.h"
#include "sasl/xsasl.h"
#include "smtp.h"
#include "smtp_sasl.h"
#include "util/msg.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

static struct maps *passwd_maps;
static struct xsasl_mech_filter *mech_filter;
static struct maps_domain_list *local_domains;

/* param_name - "smtp_X" or "lmtp_X" as the personality says */
static const char *
param_name(const char *suffix)
{
	static char buf[100];

	snprintf(buf, sizeof(buf), "%s_%s", smtp_lmtp_mode ? "lmtp" : "smtp",
		 suffix);
	return buf;
}

/* smtp_sasl_init - open tables, load libsasl2 (before chroot) */
void
smtp_sasl_init(void)
{
	if (*var_smtp_sasl_password_maps == 0)
		msg_fatal("specify a password table via the `%s' "
			  "configuration parameter",
			  param_name("sasl_password_maps"));
	passwd_maps = maps_create(param_name("sasl_password_maps"),
				  var_smtp_sasl_password_maps,
				  MAPS_FLAGS_DEFAULT);
	passwd_maps->secret = 1;
	if (xsasl_client_init(var_smtp_sasl_type, var_smtp_sasl_path,
			      var_cyrus_sasl_config_path) < 0)
		msg_fatal("SASL library initialization");
	/* Postfix names this list by its smtp_ name in both modes. */
	mech_filter = xsasl_mech_filter_create("smtp_sasl_mechanism_filter",
					       var_smtp_sasl_mechanism_filter);
	if (var_mydestination && *var_mydestination)
		local_domains = maps_domain_list_create("mydestination",
							var_mydestination, 0);
	smtp_sasl_cache_init();
}

/* smtp_sasl_sender_dependent - credentials chosen per sender */
int
smtp_sasl_sender_dependent(void)
{
	return var_smtp_sasl_auth_enable && !smtp_lmtp_mode
	    && var_smtp_sender_dependent_authentication;
}

/* smtp_sasl_key_sender - cache keys must include the sender */
int
smtp_sasl_key_sender(void)
{
	return var_smtp_sender_dependent_authentication
	    && *var_smtp_sasl_password_maps;
}

/* smtp_sasl_key_host - endpoint keys must include next hop and host */
int
smtp_sasl_key_host(void)
{
	return *var_smtp_sasl_password_maps != 0;
}

/* is_local - a domain this host receives mail for (mydestination) */
static int
is_local(const char *domain, void *ctx)
{
	struct maps_domain_list *list = ctx;
	int hit;

	if (list == NULL)
		return 0;
	hit = maps_domain_list_match(list, domain);
	return hit ? 1 : list->error ? -1 : 0;
}

/*
 * smtp_sasl_passwd_find - the "user:password" for a server, as Postfix
 * 3.7 looks it up: the sender address (when sender_dependent and the
 * sender is not empty; user@domain, then @domain, ...), then the server's
 * host name (the MX name, or the address of [address] destinations), then
 * the destination as written in the next hop ("example.com",
 * "[mail.example.com]:587").  A lookup error stops the search (-1); 1
 * when found, with *user and *pass xmalloc'd; 0 when nothing is found.
 */
int
smtp_sasl_passwd_find(struct maps *maps, int sender_dependent,
		      const char *sender, const char *host, const char *dest,
		      char **user, char **pass)
{
	const char *value = NULL;
	const char *colon;

	maps->error = 0;
	if (sender_dependent && sender && *sender) {
		struct maps_addr_opts opts = {
			.strategy = MAPS_ADDR_DEFAULT,
			.rcpt_delim = var_recipient_delimiter,
			.is_local = is_local,
			.ctx = local_domains,
			.query_form = MAPS_ADDR_QUERY_EXTERNAL_FIRST,
		};

		value = maps_addr_find(maps, sender, &opts, NULL);
	}
	if (value == NULL && maps->error == 0)
		value = maps_find(maps, host, 0);
	if (value == NULL && maps->error == 0)
		value = maps_find(maps, dest, 0);
	if (value == NULL)
		return maps->error ? -1 : 0;
	if ((colon = strchr(value, ':')) != NULL) {
		*user = xstrndup(value, (size_t)(colon - value));
		*pass = xstrdup(colon + 1);
	} else {
		*user = xstrdup(value);
		*pass = xstrdup("");
	}
	return 1;
}

/* smtp_sasl_helo_auth - remember the mechanisms of an EHLO AUTH line */
void
smtp_sasl_helo_auth(struct smtp_session *session, const char *words)
{
	char *mechs = xsasl_mech_filter_apply(mech_filter, words);

	/* A server that repeats AUTH with another list: take them all. */
	if (session->sasl_mechs) {
		if (strcasecmp(session->sasl_mechs, mechs) != 0 && *mechs
		    && strlen(session->sasl_mechs)
		    < (size_t)var_line_length_limit) {
			char *both = xasprintf("%s %s", session->sasl_mechs,
					       mechs);

			free(session->sasl_mechs);
			session->sasl_mechs = both;
		}
		free(mechs);
		return;
	}
	if (*mechs) {
		session->sasl_mechs = mechs;
	} else {
		if (*words)
			msg_warn("%s offered no supported AUTH mechanisms: "
				 "'%s'", session->namaddrport, words);
		else
			msg_warn("%s offered null AUTH mechanism list",
				 session->namaddrport);
		free(mechs);
	}
	/* Even with nothing usable: AUTH was announced (and AUTH=<> fits). */
	session->features |= SMTP_FEATURE_AUTH;
}

/*
 * send_line - one AUTH dialogue line; verbose logs and the postmaster
 * transcript never show secrets (Postfix's transcript has the base64
 * responses, that is the password)
 */
static int
send_line(struct smtp_session *session, const char *shown, const char *line)
{
	smtp_chat_cmd(session, shown);
	if (msg_verbose)
		msg_info("> %s: %s", session->namaddrport, shown);
	smtp_stream_setup(session, var_smtp_helo_timeout, 0);
	stream_puts(session->stream, line);
	stream_puts(session->stream, "\r\n");
	return stream_flush(session->stream);
}

/* sasl_why - a locally detected SASL failure (no remote MTA) */
static void
sasl_why(struct smtp_state *state, const char *status, const char *dtext,
	 const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
sasl_why(struct smtp_state *state, const char *status, const char *dtext,
	 const char *fmt, ...)
{
	struct strbuf reason = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vprintf(&reason, fmt, ap);
	va_end(ap);
	dsn_free(state->why);
	state->why = dsn_create(status, "", strbuf_str(&reason),
				dtext ? "x-sasl" : "", dtext ? dtext : "",
				"", "");
	strbuf_release(&reason);
}

/* challenge - the text of a 334 reply after its code */
static const char *
challenge(const struct smtp_resp *resp)
{
	const char *cp = strbuf_str(&resp->lines);

	cp += strspn(cp, "- \t\n");
	cp += strcspn(cp, "- \t\n");
	if (*cp)
		cp++;
	return cp;
}

/*
 * authenticate - the AUTH dialogue.  -1: local or protocol trouble, or
 * the connection broke (state->why set, or the stream has the error);
 * 0: the server refused (state->why has its reply); 1: authenticated.
 */
static int
authenticate(struct smtp_state *state, struct strbuf *reply)
{
	struct smtp_session *session = state->session;
	struct smtp_resp resp;
	const char *mech = NULL;
	struct strbuf shown = STRBUF_INIT;
	int steps = 0, ret = -1, result;

	if (msg_verbose)
		msg_info("smtp_sasl_authenticate: %s: SASL mechanisms %s",
			 session->namaddrport, session->sasl_mechs);
	if (smtp_sasl_cache_find(state))
		return 0;
	result = xsasl_client_first(session->sasl_client, session->sasl_mechs,
				    session->sasl_user, session->sasl_pass,
				    &mech, reply);
	if (result != XSASL_AUTH_OK) {
		sasl_why(state, "4.7.0", strbuf_str(reply),
			 "SASL authentication failed; cannot authenticate to "
			 "server %s: %s", session->namaddr, strbuf_str(reply));
		return -1;
	}

	/*
	 * RFC 4954: the initial response goes with AUTH unless the command
	 * line would pass RFC 5321's 512 octets; then it waits for an empty
	 * challenge.
	 */
	smtp_resp_init(&resp);
	if (reply->len > 0 && strlen(mech) + reply->len + 8 <= 512) {
		struct strbuf cmd = STRBUF_INIT;

		strbuf_printf(&cmd, "AUTH %s %s", mech, strbuf_str(reply));
		strbuf_printf(&shown, "AUTH %s ********", mech);
		result = send_line(session, strbuf_str(&shown), strbuf_str(&cmd));
		memset(cmd.data, 0, cmd.len);
		strbuf_release(&cmd);
		strbuf_reset(reply);
	} else {
		strbuf_printf(&shown, "AUTH %s", mech);
		result = send_line(session, strbuf_str(&shown),
				   strbuf_str(&shown));
	}
	if (result != 0)
		goto out;
	for (;;) {
		const char *text;

		if (smtp_resp_read(session, &resp) < 0)
			goto out;
		if (resp.code / 100 != 3)
			break;
		if (++steps > 100) {
			sasl_why(state, "4.3.0", NULL,
				 "SASL authentication failed; authentication "
				 "protocol loop with server %s",
				 session->namaddr);
			goto out;
		}
		text = challenge(&resp);
		if (reply->len > 0) {
			/*
			 * A deferred initial response needs an empty
			 * challenge.  Postfix quotes its own response here;
			 * that is the password in base64, so we quote the
			 * server's challenge instead.
			 */
			if (*text) {
				sasl_why(state, "4.7.0", "protocol error",
					 "SASL authentication failed; "
					 "non-empty initial %s challenge from "
					 "server %s: %s", mech,
					 session->namaddr, text);
				goto out;
			}
		} else if (xsasl_client_next(session->sasl_client, text, reply)
			   != XSASL_AUTH_OK) {
			sasl_why(state, "4.7.0", strbuf_str(reply),
				 "SASL authentication failed; cannot "
				 "authenticate to server %s: %s",
				 session->namaddr, strbuf_str(reply));
			goto out;
		}
		result = send_line(session, "********", strbuf_str(reply));
		memset(reply->data ? reply->data : "", 0, reply->len);
		strbuf_reset(reply);
		if (result != 0)
			goto out;
	}
	if (resp.code / 100 != 2) {
		char status[sizeof(resp.dsn)];

		if (resp.code == 535)
			smtp_sasl_cache_store(state, &resp);
		snprintf(status, sizeof(status), "%s", resp.dsn);
		if (var_smtp_sasl_auth_soft_bounce && resp.code / 100 == 5)
			status[0] = '4';
		dsn_free(state->why);
		{
			struct strbuf reason = STRBUF_INIT;

			strbuf_printf(&reason, "SASL authentication failed; "
				      "server %s said: %s", session->namaddr,
				      strbuf_str(&resp.text));
			state->why = dsn_create(status, "", strbuf_str(&reason),
						"smtp", strbuf_str(&resp.text),
						"dns", session->host);
			strbuf_release(&reason);
		}
		ret = 0;
		goto out;
	}
	ret = 1;
out:
	smtp_resp_release(&resp);
	strbuf_release(&shown);
	return ret;
}

/*
 * smtp_sasl_have_credentials - 1 when AUTH is on and the password table
 * has (or may have: lookup error) credentials for this session's server
 */
int
smtp_sasl_have_credentials(struct smtp_state *state)
{
	struct smtp_session *session = state->session;
	char *user = NULL, *pass = NULL;
	int found;

	if (!var_smtp_sasl_auth_enable || !*var_smtp_sasl_password_maps
	    || passwd_maps == NULL)
		return 0;
	found = smtp_sasl_passwd_find(passwd_maps, smtp_sasl_sender_dependent(),
				      state->req->sender, session->host,
				      state->dest ? state->dest : "",
				      &user, &pass);
	free(user);
	free(pass);
	return found != 0;
}

/* smtp_sasl_helo_login - authenticate when we have credentials */
int
smtp_sasl_helo_login(struct smtp_state *state, enum smtp_sasl_channel channel)
{
	struct smtp_session *session = state->session;
	struct deliver_request *req = state->req;
	struct strbuf reply = STRBUF_INIT;
	const char *opts, *opts_name;
	int found, ret;

	if (!var_smtp_sasl_auth_enable
	    || !(session->features & SMTP_FEATURE_AUTH))
		return 0;
	found = smtp_sasl_passwd_find(passwd_maps, smtp_sasl_sender_dependent(),
				      req->sender, session->host,
				      state->dest ? state->dest : "",
				      &session->sasl_user, &session->sasl_pass);
	if (found < 0) {
		msg_warn("%s: %s lookup error", req->queue_id,
			 passwd_maps->title);
		session->data_error = 1;
		return SMTP_SASL_BROKEN;
	}
	if (found == 0) {
		if (msg_verbose)
			msg_info("smtp_sasl_passwd_lookup: no auth info found "
				 "(sender=`%s', host=`%s')", req->sender,
				 session->host);
		/* Strangers: no AUTH, and no AUTH=<> either. */
		session->features &= ~SMTP_FEATURE_AUTH;
		return 0;
	}
	if (msg_verbose)
		msg_info("smtp_sasl_passwd_lookup: host `%s' user `%s' pass "
			 "`********'", session->host, session->sasl_user);
	if (session->sasl_mechs == NULL) {
		smtp_sess_fail(state, "4.7.0", "SASL authentication failed: "
			       "server %s offered no compatible "
			       "authentication mechanisms for this type of "
			       "connection security", session->namaddr);
		return -1;
	}
	switch (channel) {
	case SMTP_SASL_TLS:
		opts = var_smtp_sasl_tls_security_options;
		opts_name = "sasl_tls_security_options";
		break;
	case SMTP_SASL_TLS_VERIFIED:
		opts = var_smtp_sasl_tls_verified_security_options;
		opts_name = "sasl_tls_verified_security_options";
		break;
	default:
		opts = var_smtp_sasl_security_options;
		opts_name = "sasl_security_options";
		break;
	}
	if (msg_verbose)
		msg_info("starting new SASL client (%s)", param_name(opts_name));
	session->sasl_client = xsasl_client_create(server_process_name
						   ? server_process_name
						   : "smtp", session->host,
						   opts,
						   var_send_cyrus_sasl_authzid);
	if (session->sasl_client == NULL)
		msg_fatal("SASL per-connection initialization failed");
	ret = authenticate(state, &reply);
	strbuf_release(&reply);
	if (ret > 0)
		return 0;
	/* A broken connection, or a reply filter lookup error. */
	if (ret < 0 && (stream_error(session->stream) != STREAM_OK
			|| session->data_error))
		return SMTP_SASL_BROKEN;
	smtp_sess_fail_why(state);
	return -1;
}

/* smtp_sasl_cleanup - forget this session's SASL state */
void
smtp_sasl_cleanup(struct smtp_session *session)
{
	if (session->sasl_pass) {
		memset(session->sasl_pass, 0, strlen(session->sasl_pass));
		free(session->sasl_pass);
		session->sasl_pass = NULL;
	}
	free(session->sasl_user);
	session->sasl_user = NULL;
	free(session->sasl_mechs);
	session->sasl_mechs = NULL;
	xsasl_client_free(session->sasl_client);
	session->sasl_client = NULL;
}
