/*
 * smtp_sasl_cache - remember logins that a server refused with 535
 * (smtp_sasl_auth_cache_name, smtp_sasl_auth_cache_time)
 *
 *   smtp_sasl_cache_init()   pre_init: open the table (proxy: only, as
 *                            Postfix requires: proxywrite(8) serialises
 *                            the writers)
 *   smtp_sasl_cache_find()   a fresh entry for this server, user and
 *                            password: state->why gets the remembered
 *                            reply, "SASL [CACHED] authentication
 *                            failed; server HOST said: ..."
 *   smtp_sasl_cache_store()  after a 535
 *
 * Entries are Postfix's, so a table can be shared with Postfix's smtp:
 * key "host;user", value "time;hash;status;reply" where hash is the
 * base64 SHA-1 of the password (never the password itself).  An entry
 * that is too old, malformed, or made with another password is removed
 * and the server is asked again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "global/dsn.h"
#include "global/params.h"
#include "maps/maps.h"
#include "smtp.h"
#include "smtp_sasl.h"
#include "util/msg.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

static struct maps_writer *cache;

/* smtp_sasl_cache_init - (pre_init) open the cache table, if any */
void
smtp_sasl_cache_init(void)
{
	const char *name = var_smtp_sasl_auth_cache_name;
	char *why = NULL;

	if (*name == 0)
		return;
	if (name[strcspn(name, ", \t\r\n")] != 0)
		msg_fatal("SASL authentication cache name \"%s\" contains "
			  "multiple values", name);
	if (strncmp(name, "proxy:", 6) != 0)
		msg_fatal("SASL authentication cache name \"%s\" must start "
			  "with \"proxy:", name);
	cache = maps_writer_open(name, MAPS_FLAG_DUP_REPLACE
				 | MAPS_FLAG_SYNC_UPDATE
				 | MAPS_FLAG_UTF8_REQUEST, &why);
	if (cache == NULL)
		msg_fatal("%s", why);
}

/* password_hash - base64 of the password's SHA-1 (xmalloc'd) */
static char *
password_hash(const char *password)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	char *out;

	if (EVP_Digest(password, strlen(password), md, &len, EVP_sha1(),
		       NULL) != 1)
		msg_fatal("SASL auth cache: SHA-1 failed");
	out = xmalloc(4 * ((len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, md, (int)len);
	return out;
}

/* cache_key - "host;user" */
static char *
cache_key(const struct smtp_session *session)
{
	return xasprintf("%s;%s", session->host, session->sasl_user);
}

/*
 * entry_valid - a well-formed, fresh entry made with this password; the
 * status and reply go to *status and *text (xmalloc'd) when valid.
 */
static int
entry_valid(const char *entry, const char *password, char **status,
	    char **text)
{
	char *copy = xstrdup(entry), *rest = copy;
	char *stamp = strsep(&rest, ";");
	char *hash = rest ? strsep(&rest, ";") : NULL;
	char *dsn = rest ? strsep(&rest, ";") : NULL;
	char *reply = rest;
	char *end, *mine;
	unsigned long when;
	int valid = 0;

	when = strtoul(stamp, &end, 10);
	if (hash == NULL || dsn == NULL || reply == NULL || end == stamp
	    || *end || *hash == 0 || *reply == 0 || !dsn_valid(dsn)) {
		msg_warn("bad smtp_sasl_auth_cache entry: %.100s", entry);
	} else if (when + (unsigned long)var_smtp_sasl_auth_cache_time
		   < (unsigned long)time(NULL)) {
		valid = 0;
	} else {
		mine = password_hash(password);
		valid = strcmp(hash, mine) == 0;
		free(mine);
		if (valid) {
			reply[strcspn(reply, "\n")] = 0;
			*status = xstrdup(dsn);
			*text = xstrdup(reply);
		}
	}
	free(copy);
	return valid;
}

/* smtp_sasl_cache_find - fail at once after a recent 535 */
int
smtp_sasl_cache_find(struct smtp_state *state)
{
	struct smtp_session *session = state->session;
	char *key, *status = NULL, *text = NULL;
	const char *entry;
	int error, valid = 0;

	if (cache == NULL)
		return 0;
	key = cache_key(session);
	if ((entry = maps_writer_get(cache, key, &error)) != NULL) {
		valid = entry_valid(entry, session->sasl_pass, &status, &text);
		if (!valid && maps_writer_del(cache, key) != 0)
			msg_warn("SASL auth failure map %s: entry not "
				 "deleted: %s", maps_writer_name(cache), key);
	}
	if (error)
		msg_warn("SASL auth failure map %s: lookup failed for %s",
			 maps_writer_name(cache), key);
	free(key);
	if (!valid)
		return 0;
	if (var_smtp_sasl_auth_soft_bounce && status[0] == '5')
		status[0] = '4';
	{
		struct strbuf reason = STRBUF_INIT;

		/* Postfix names the host here, not host[address]. */
		strbuf_printf(&reason, "SASL [CACHED] authentication failed; "
			      "server %s said: %s", session->host, text);
		dsn_free(state->why);
		state->why = dsn_create(status, "", strbuf_str(&reason),
					"smtp", text, "dns", session->host);
		strbuf_release(&reason);
	}
	free(status);
	free(text);
	return 1;
}

/* smtp_sasl_cache_store - remember a 535 for these credentials */
void
smtp_sasl_cache_store(struct smtp_state *state, const struct smtp_resp *resp)
{
	struct smtp_session *session = state->session;
	char *key, *hash, *value;

	if (cache == NULL)
		return;
	key = cache_key(session);
	hash = password_hash(session->sasl_pass);
	value = xasprintf("%lu;%s;%s;%s", (unsigned long)time(NULL), hash,
			  resp->dsn, strbuf_str(&resp->text));
	(void)maps_writer_put(cache, key, value);
	free(hash);
	free(value);
	free(key);
}
