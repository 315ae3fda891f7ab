/* smtp_sasl - SMTP AUTH inside the SMTP/LMTP client (see smtp_sasl.c) */
#ifndef SMTP_SMTP_SASL_H
#define SMTP_SMTP_SASL_H

#include "maps/maps.h"
#include "smtp.h"

/* How the connection is protected when AUTH runs: picks the options. */
enum smtp_sasl_channel {
	SMTP_SASL_CLEAR = 0,	/* smtp_sasl_security_options */
	SMTP_SASL_TLS,		/* smtp_sasl_tls_security_options */
	SMTP_SASL_TLS_VERIFIED,	/* smtp_sasl_tls_verified_security_options */
};

/* smtp_sasl_helo_login(): the connection broke, or a local data error
 * (session->data_error): the caller reports it as a stream exception. */
#define SMTP_SASL_BROKEN	(-2)

void smtp_sasl_init(void);
void smtp_sasl_helo_auth(struct smtp_session *session, const char *words);
int smtp_sasl_helo_login(struct smtp_state *state,
			 enum smtp_sasl_channel channel);
void smtp_sasl_cleanup(struct smtp_session *session);
int smtp_sasl_have_credentials(struct smtp_state *state);
int smtp_sasl_passwd_find(struct maps *maps, int sender_dependent,
			  const char *sender, const char *host,
			  const char *dest, char **user, char **pass);

/* smtp_sasl_cache.c: the failed-login cache (smtp_sasl_auth_cache_name) */
void smtp_sasl_cache_init(void);
int smtp_sasl_cache_find(struct smtp_state *state);
void smtp_sasl_cache_store(struct smtp_state *state,
			   const struct smtp_resp *resp);

#endif
