/* xsasl - the SASL client glue (Cyrus SASL) and its pure helpers */
#ifndef SASL_XSASL_H
#define SASL_XSASL_H

#include "util/strbuf.h"

/*
 * The prefix is xsasl_ because Cyrus SASL owns sasl_*.
 *
 * Process set-up (pre_init: before chroot, so that libsasl2 can load its
 * plugins from /usr/lib/.../sasl2):
 *	xsasl_client_init("cyrus", var_smtp_sasl_path,
 *			  var_cyrus_sasl_config_path);
 * Returns 0, or -1 after a warning (unsupported type, library error): the
 * caller makes that fatal, as Postfix does.
 *
 * Per session: xsasl_client_create() with the SASL security options in
 * force for the connection (Postfix's noplaintext, noactive, ... names);
 * NULL after a warning when they are bad or libsasl2 refuses.  Then
 * xsasl_client_first() picks a mechanism from the server's list and gives
 * the base64 initial response ("" when the mechanism has none), and
 * xsasl_client_next() answers one base64 challenge.  Both return
 * XSASL_AUTH_OK, or XSASL_AUTH_FAIL / XSASL_AUTH_FORM (a challenge that
 * is not base64) with the library's error text in reply.
 *
 * The password given to xsasl_client_first() is kept only for libsasl2's
 * callbacks and is never logged; neither is any client response (they
 * carry the password, possibly only base64-encoded).
 */
#define XSASL_AUTH_OK		1
#define XSASL_AUTH_FAIL		2
#define XSASL_AUTH_FORM		3

struct xsasl_client;

int xsasl_client_init(const char *type, const char *path,
		      const char *config_path);
struct xsasl_client *xsasl_client_create(const char *service,
					 const char *server_name,
					 const char *security_options,
					 int send_authzid);
int xsasl_client_first(struct xsasl_client *client, const char *mechanisms,
		       const char *username, const char *password,
		       const char **mechanism, struct strbuf *reply);
int xsasl_client_next(struct xsasl_client *client, const char *challenge,
		      struct strbuf *reply);
void xsasl_client_free(struct xsasl_client *client);

/*
 * xsasl_security_parse - Postfix's SASL security option names
 * (noplaintext, noactive, nodictionary, noanonymous, mutual_auth,
 * forward_secrecy; separated by commas or white space) as libsasl2's
 * SASL_SEC_* bits.  0 for an empty list; -1 after a warning "unknown SASL
 * security options value" for a name that is not one of these.
 */
int xsasl_security_parse(const char *options);

/*
 * A mechanism filter: smtp_sasl_mechanism_filter.  Items are names,
 * "!name", type:table (a mechanism found in the table matches), or
 * /file/name (more items, one or more per line); the first item that
 * matches decides, and no match means "drop".  Names compare without
 * regard to case.  xsasl_mech_filter_create() returns NULL for an empty
 * spec (keep everything).  xsasl_mech_filter_apply() returns the
 * server's AUTH words that the filter keeps, in order, separated by one
 * space (xmalloc'd); a table lookup error is fatal, as in Postfix.
 */
struct xsasl_mech_filter;

struct xsasl_mech_filter *xsasl_mech_filter_create(const char *title,
						   const char *spec);
char *xsasl_mech_filter_apply(struct xsasl_mech_filter *filter,
			      const char *words);
void xsasl_mech_filter_free(struct xsasl_mech_filter *filter);

#endif
