/*
 * smtp_sasl_cache - remember failed logins (smtp_sasl_auth_cache_name)
 *
 * Postfix keeps, in a proxywrite table, "host;user" -> "time;SHA-1 of
 * the password;status;reply" after a 535 reply, and then fails without
 * asking the server again while the entry is younger than
 * smtp_sasl_auth_cache_time and the password unchanged.
 *
 * Not built yet: a configured cache is ignored with a warning, so every
 * delivery asks the server (more logins, same outcome).
 */
#include "global/params.h"
#include "smtp.h"
#include "smtp_sasl.h"
#include "util/msg.h"

/* smtp_sasl_cache_init - (pre_init) check the cache setting */
void
smtp_sasl_cache_init(void)
{
	if (*var_smtp_sasl_auth_cache_name)
		msg_warn("%s is not supported yet -- ignoring the setting",
			 smtp_lmtp_mode ? "lmtp_sasl_auth_cache_name"
			 : "smtp_sasl_auth_cache_name");
}

/* smtp_sasl_cache_find - a recent failure of these credentials here */
int
smtp_sasl_cache_find(struct smtp_state *state)
{
	(void)state;
	return 0;
}

/* smtp_sasl_cache_store - remember a 535 */
void
smtp_sasl_cache_store(struct smtp_state *state, const struct smtp_resp *resp)
{
	(void)state;
	(void)resp;
}
