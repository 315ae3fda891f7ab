/*
 * smtp_maps - the lookup tables the SMTP/LMTP client consults
 *
 * smtp_maps_init() opens every table parameter at start-up, before the
 * chroot and the privilege drop (the pre_init hook), so that files
 * outside the chroot and root-only files work as with Postfix.
 * smtp_maps_pre_accept() exits (to be restarted fresh by master) when a
 * file-based table changed, as Postfix's smtp does.
 *
 * Lookups return the value, or NULL for "not found"; a lookup error is
 * reported through *error so the caller can defer instead of guessing:
 *
 *   smtp_reply_filter_find()     a server reply line (smtp_reply_filter)
 *   smtp_pix_maps_find()         PIX workarounds for a server address
 *   smtp_ehlo_discard_find()     EHLO keywords to discard for an address
 *   smtp_header_checks_find()    smtp_{,mime_,nested_}header_checks
 *   smtp_body_checks_find()      smtp_body_checks
 *
 * The delivery status filter (smtp_delivery_status_filter) is installed
 * into the report layer, which applies it to every bounce, defer and
 * success report.
 */
#include <stdio.h>
#include <stdlib.h>

#include "global/params.h"
#include "global/report.h"
#include "maps/maps.h"
#include "smtp.h"
#include "smtp_addr.h"
#include "smtp_sasl.h"
#include "util/msg.h"

static struct maps *reply_filter;
static struct maps *pix_maps;
static struct maps *ehlo_discard_maps;
static struct maps *status_filter;
static struct maps *header_checks[3];	/* primary, MIME, nested */
static struct maps *body_checks;
static struct maps_domain_list *flush_domains;

/* flush_domain_match - fast_flush_domains, for the report layer */
static int
flush_domain_match(const char *domain)
{
	if (maps_domain_list_match(flush_domains, domain))
		return 1;
	return flush_domains->error ? -1 : 0;
}

/* open_maps - a table list for a parameter, or NULL when it is empty */
static struct maps *
open_maps(const char *title, const char *spec, int flags)
{
	if (spec == NULL || *spec == 0)
		return NULL;
	return maps_create(title, spec, flags);
}

/* status_filter_find - the report layer's hook */
static const char *
status_filter_find(const char *key, int *error)
{
	const char *value = maps_find(status_filter, key, 0);

	*error = value ? 0 : status_filter->error;
	return value;
}

/* lookup - maps_find with the error made visible */
static const char *
lookup(struct maps *maps, const char *key, int *error)
{
	const char *value;

	*error = 0;
	if (maps == NULL)
		return NULL;
	value = maps_find(maps, key, 0);
	if (value == NULL)
		*error = maps->error;
	return value;
}

/* smtp_maps_init - open the tables (pre_init: before chroot) */
void
smtp_maps_init(void)
{
	const char *lmtp = smtp_lmtp_mode ? "lmtp" : "smtp";
	char title[100];

	smtp_debug_peer_init();
	smtp_tls_policy_init();
	if (*var_fast_flush_domains) {
		flush_domains = maps_domain_list_create(
			"fast_flush_domains", var_fast_flush_domains,
			smtp_parent_style("fast_flush_domains"));
		report_set_flush_domains(flush_domain_match);
	}
	snprintf(title, sizeof(title), "%s_reply_filter", lmtp);
	reply_filter = open_maps(title, var_smtp_reply_filter,
				 MAPS_FLAG_LOCK | MAPS_FLAG_FOLD_FIX);
	snprintf(title, sizeof(title), "%s_pix_workaround_maps", lmtp);
	pix_maps = open_maps(title, var_smtp_pix_workaround_maps,
			     MAPS_FLAG_LOCK);
	snprintf(title, sizeof(title), "%s_discard_%s_keyword_address_maps",
		 lmtp, smtp_lmtp_mode ? "lhlo" : "ehlo");
	ehlo_discard_maps = open_maps(title,
				      var_smtp_discard_ehlo_keyword_address_maps,
				      MAPS_FLAG_LOCK);
	smtp_generic_init();
	snprintf(title, sizeof(title), "%s_header_checks", lmtp);
	header_checks[0] = open_maps(title, var_smtp_header_checks,
				     MAPS_FLAG_LOCK);
	snprintf(title, sizeof(title), "%s_mime_header_checks", lmtp);
	header_checks[1] = open_maps(title, var_smtp_mime_header_checks,
				     MAPS_FLAG_LOCK);
	snprintf(title, sizeof(title), "%s_nested_header_checks", lmtp);
	header_checks[2] = open_maps(title, var_smtp_nested_header_checks,
				     MAPS_FLAG_LOCK);
	snprintf(title, sizeof(title), "%s_body_checks", lmtp);
	body_checks = open_maps(title, var_smtp_body_checks,
				MAPS_FLAG_LOCK);
	snprintf(title, sizeof(title), "%s_delivery_status_filter", lmtp);
	status_filter = open_maps(title, var_smtp_delivery_status_filter,
				  MAPS_FLAG_LOCK);
	if (status_filter)
		report_set_status_filter(status_filter_find);
	/* Address-lookup settings and smtp_dns_reply_filter, before chroot. */
	smtp_addr_init();
	/* libsasl2 loads its plugins now: they are outside the chroot. */
	if (var_smtp_sasl_auth_enable)
		smtp_sasl_init();
}

/* smtp_maps_pre_accept - restart when a table file changed */
void
smtp_maps_pre_accept(void)
{
	const char *name;

	if ((name = maps_changed()) != NULL) {
		msg_info("table %s has changed -- restarting", name);
		exit(0);
	}
}

const char *
smtp_reply_filter_find(const char *line, int *error)
{
	return lookup(reply_filter, line, error);
}

const char *
smtp_pix_maps_find(const char *addr, int *error)
{
	return lookup(pix_maps, addr, error);
}

const char *
smtp_ehlo_discard_find(const char *addr, int *error)
{
	return lookup(ehlo_discard_maps, addr, error);
}

/* smtp_maps_title - for "table X lookup error" messages */
const char *
smtp_maps_title(int which)
{
	struct maps *m = which == 0 ? reply_filter : which == 1 ? pix_maps
	    : ehlo_discard_maps;

	return m ? m->title : "";
}

/* smtp_checks_active - are any header or body checks configured */
int
smtp_checks_active(void)
{
	return header_checks[0] || header_checks[1] || header_checks[2]
	    || body_checks;
}

/* smtp_header_checks_find - the action for a header of a class 0..2 */
const char *
smtp_header_checks_find(int which, const char *header, int *error,
			const char **title)
{
	*title = header_checks[which] ? header_checks[which]->title : "";
	return lookup(header_checks[which], header, error);
}

/* smtp_body_checks_find - the action for a body line */
const char *
smtp_body_checks_find(const char *line, int *error, const char **title)
{
	*title = body_checks ? body_checks->title : "";
	return lookup(body_checks, line, error);
}

/* smtp_body_checks_active - body checks configured */
int
smtp_body_checks_active(void)
{
	return body_checks != NULL;
}
