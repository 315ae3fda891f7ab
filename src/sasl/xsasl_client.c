/*
 * xsasl_client - the SASL client, through Cyrus SASL (libsasl2)
 *
 *   xsasl_client_init()     once per process, before chroot
 *   xsasl_client_create()   per session: a libsasl2 connection with its
 *                           own user/password callbacks and security
 *                           properties
 *   xsasl_client_first()    choose a mechanism, make the initial response
 *   xsasl_client_next()     answer one server challenge
 *   xsasl_client_free()     forget the session (and the password)
 *
 * Responses go out base64-encoded (libsasl2's sasl_encode64), challenges
 * come in base64 (sasl_decode64).  Errors carry sasl_errstring()'s text,
 * which Postfix puts in its deferral reasons ("no mechanism available").
 *
 * No SASL security layer is ever negotiated (max_ssf 0), as in Postfix:
 * the stream stays plain after AUTH.
 *
 * Secrets: nothing here logs the password or a client response, at any
 * verbosity, and libsasl2's SASL_LOG_PASS messages are dropped.
 *
 * SEE ALSO: src/smtp/smtp_sasl.c (the SMTP side), xsasl_mech.c.
 */
#include <stdlib.h>
#include <string.h>

#include <sasl/sasl.h>
#include <sasl/saslutil.h>

#include "sasl/xsasl.h"
#include "util/msg.h"
#include "util/xmalloc.h"

struct xsasl_client {
	sasl_conn_t *conn;
	sasl_callback_t callbacks[4];	/* context: this object */
	char *username;
	char *password;		/* for the callback only; never logged */
	sasl_secret_t *secret;	/* the last one handed to libsasl2 */
};

static int initialized;

/* log_cb - libsasl2's messages at Postfix's levels (never the "pass" ones) */
static int
log_cb(void *context, int level, const char *message)
{
	(void)context;
	switch (level) {
	case SASL_LOG_ERR:
	case SASL_LOG_WARN:
		msg_warn("SASL authentication problem: %s", message);
		break;
	case SASL_LOG_NOTE:
		if (msg_verbose)
			msg_info("SASL authentication info: %s", message);
		break;
	case SASL_LOG_FAIL:
		msg_warn("SASL authentication failure: %s", message);
		break;
	case SASL_LOG_DEBUG:
		if (msg_verbose > 1)
			msg_info("SASL authentication debug: %s", message);
		break;
	case SASL_LOG_TRACE:
		if (msg_verbose > 1)
			msg_info("SASL authentication trace: %s", message);
		break;
	default:
		/* SASL_LOG_PASS may show passwords: Postern never logs it. */
		break;
	}
	return SASL_OK;
}

/* xsasl_client_init - load libsasl2 and its plugins */
int
xsasl_client_init(const char *type, const char *path,
		  const char *config_path)
{
	static sasl_callback_t global_callbacks[] = {
		{SASL_CB_LOG, (int (*)(void))(void (*)(void))log_cb, NULL},
		{SASL_CB_LIST_END, NULL, NULL},
	};
	int major, status;

	(void)path;		/* Cyrus takes no path; Postfix ignores it too */
	if (strcmp(type, "cyrus") != 0) {
		msg_warn("unsupported SASL client implementation: %s", type);
		return -1;
	}
	if (initialized)
		return 0;
	sasl_version_info(NULL, NULL, &major, NULL, NULL, NULL);
	if (major != SASL_VERSION_MAJOR) {
		msg_warn("incorrect SASL library version. Postern was built "
			 "with include files from version %d.%d.%d, but the "
			 "run-time library version is %d", SASL_VERSION_MAJOR,
			 SASL_VERSION_MINOR, SASL_VERSION_STEP, major);
		return -1;
	}
	if (config_path && *config_path
	    && sasl_set_path(SASL_PATH_TYPE_CONFIG, (char *)config_path)
	    != SASL_OK)
		msg_warn("failed to set Cyrus SASL configuration path: \"%s\"",
			 config_path);
	if ((status = sasl_client_init(global_callbacks)) != SASL_OK) {
		msg_warn("SASL library initialization error: %s",
			 sasl_errstring(status, NULL, NULL));
		return -1;
	}
	initialized = 1;
	return 0;
}

/* get_user - SASL_CB_USER and SASL_CB_AUTHNAME */
static int
get_user(void *context, int id, const char **result, unsigned *len)
{
	struct xsasl_client *client = context;

	(void)id;
	if (client->username == NULL)
		msg_panic("xsasl get_user: no username looked up");
	if (msg_verbose)
		msg_info("xsasl_client_get_user: %s", client->username);
	*result = client->username;
	if (len)
		*len = (unsigned)strlen(client->username);
	return SASL_OK;
}

/* get_pass - SASL_CB_PASS: a counted copy that lives with the client */
static int
get_pass(sasl_conn_t *conn, void *context, int id, sasl_secret_t **psecret)
{
	struct xsasl_client *client = context;
	size_t len;

	if (conn == NULL || psecret == NULL || id != SASL_CB_PASS)
		return SASL_BADPARAM;
	if (client->password == NULL)
		msg_panic("xsasl get_pass: no password looked up");
	/*
	 * libsasl2 may wipe the secret once it is done with it, and it
	 * must live until the next call: a fresh copy each time, the old
	 * one freed now.
	 */
	len = strlen(client->password);
	if (client->secret) {
		memset(client->secret->data, 0, client->secret->len);
		free(client->secret);
	}
	client->secret = xmalloc(sizeof(sasl_secret_t) + len);
	client->secret->len = len;
	memcpy(client->secret->data, client->password, len + 1);
	*psecret = client->secret;
	return SASL_OK;
}

/* xsasl_client_create - a libsasl2 connection for one SMTP session */
struct xsasl_client *
xsasl_client_create(const char *service, const char *server_name,
		    const char *security_options, int send_authzid)
{
	struct xsasl_client *client = xcalloc(1, sizeof(*client));
	sasl_security_properties_t props;
	sasl_callback_t *cb = client->callbacks;
	int status, flags;

	/* Without send_cyrus_sasl_authzid there is no USER callback. */
	if (send_authzid)
		*cb++ = (sasl_callback_t){SASL_CB_USER,
		    (int (*)(void))(void (*)(void))get_user, client};
	*cb++ = (sasl_callback_t){SASL_CB_AUTHNAME,
	    (int (*)(void))(void (*)(void))get_user, client};
	*cb++ = (sasl_callback_t){SASL_CB_PASS,
	    (int (*)(void))(void (*)(void))get_pass, client};
	*cb = (sasl_callback_t){SASL_CB_LIST_END, NULL, NULL};

	if ((status = sasl_client_new(service, server_name, NULL, NULL,
				      client->callbacks, 0, &client->conn))
	    != SASL_OK) {
		msg_warn("per-session SASL client initialization: %s",
			 sasl_errstring(status, NULL, NULL));
		goto fail;
	}
	if ((flags = xsasl_security_parse(security_options)) < 0) {
		msg_warn("bad per-session SASL security properties");
		goto fail;
	}
	memset(&props, 0, sizeof(props));
	props.min_ssf = 0;
	props.max_ssf = 0;	/* no SASL security layer */
	props.maxbufsize = 0;
	props.security_flags = (unsigned)flags;
	if ((status = sasl_setprop(client->conn, SASL_SEC_PROPS, &props))
	    != SASL_OK) {
		msg_warn("set per-session SASL security properties: %s",
			 sasl_errstring(status, NULL, NULL));
		goto fail;
	}
	return client;
fail:
	xsasl_client_free(client);
	return NULL;
}

/* encode - base64 of a client response into reply */
static void
encode(const char *out, unsigned outlen, struct strbuf *reply)
{
	unsigned cap = (outlen + 2) / 3 * 4 + 1, used = 0;
	char *buf = xmalloc(cap);
	int status;

	if ((status = sasl_encode64(out, outlen, buf, cap, &used)) != SASL_OK)
		msg_panic("sasl_encode64: %s",
			  sasl_errstring(status, NULL, NULL));
	strbuf_reset(reply);
	strbuf_append(reply, buf, used);
	/* The buffer held a secret: wipe it before it goes back. */
	memset(buf, 0, cap);
	free(buf);
}

/* set_secret - remember the credentials for this session's callbacks */
static void
set_secret(struct xsasl_client *client, const char *username,
	   const char *password)
{
	free(client->username);
	client->username = xstrdup(username);
	if (client->password) {
		memset(client->password, 0, strlen(client->password));
		free(client->password);
	}
	client->password = xstrdup(password);
	if (client->secret) {
		memset(client->secret->data, 0, client->secret->len);
		free(client->secret);
		client->secret = NULL;
	}
}

/* xsasl_client_first - pick a mechanism; the initial response, if any */
int
xsasl_client_first(struct xsasl_client *client, const char *mechanisms,
		   const char *username, const char *password,
		   const char **mechanism, struct strbuf *reply)
{
	const char *out = NULL;
	unsigned outlen = 0;
	int status;

	set_secret(client, username, password);
	status = sasl_client_start(client->conn, mechanisms, NULL, &out,
				   &outlen, mechanism);
	if (status != SASL_OK && status != SASL_CONTINUE) {
		strbuf_set(reply, sasl_errstring(status, NULL, NULL));
		return XSASL_AUTH_FAIL;
	}
	if (outlen > 0)
		encode(out, outlen, reply);
	else
		strbuf_set(reply, "");
	return XSASL_AUTH_OK;
}

/* xsasl_client_next - decode a challenge, answer it */
int
xsasl_client_next(struct xsasl_client *client, const char *challenge,
		  struct strbuf *reply)
{
	unsigned inlen = (unsigned)strlen(challenge), declen = 0, outlen = 0;
	char *decoded = xmalloc(inlen + 1);
	const char *out = NULL;
	int status;

	status = sasl_decode64(challenge, inlen, decoded, inlen + 1, &declen);
	if (status != SASL_OK) {
		free(decoded);
		strbuf_set(reply, sasl_errstring(status, NULL, NULL));
		return XSASL_AUTH_FORM;
	}
	if (msg_verbose)
		msg_info("xsasl_client_next: decoded challenge: %.*s",
			 (int)declen, decoded);
	status = sasl_client_step(client->conn, decoded, declen, NULL, &out,
				  &outlen);
	free(decoded);
	if (status != SASL_OK && status != SASL_CONTINUE) {
		strbuf_set(reply, sasl_errstring(status, NULL, NULL));
		return XSASL_AUTH_FAIL;
	}
	if (outlen > 0)
		encode(out, outlen, reply);
	else
		strbuf_set(reply, "");
	return XSASL_AUTH_OK;
}

/* xsasl_client_free - end the session, wipe the secrets */
void
xsasl_client_free(struct xsasl_client *client)
{
	if (client == NULL)
		return;
	if (client->conn)
		sasl_dispose(&client->conn);
	set_secret(client, "", "");
	free(client->username);
	free(client->password);
	free(client);
}
