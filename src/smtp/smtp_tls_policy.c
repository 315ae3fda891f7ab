/*
 * smtp_tls_policy - the TLS security level of a destination and server
 *
 * smtp_tls_policy_init() opens smtp_tls_policy_maps (or, when that is
 * empty, the older smtp_tls_per_site) at start-up with Postfix's flags
 * and checks the global level (smtp_tls_security_level, else the
 * legacy smtp_use_tls / smtp_enforce_tls / smtp_tls_enforce_peername).
 *
 * smtp_tls_level() computes the level for one server as Postfix 3.7
 * does: a policy table is asked for the next-hop destination as written
 * ("example.com", "[host]:port"), then, for a domain, its parents with a
 * leading dot (".com"); a per-site table is asked for the destination
 * and the server's host name, and NONE, MAY, MUST_NOPEERMATCH and MUST
 * combine by Postfix's precedence.  A bad policy or a lookup error gives
 * SMTP_TLS_LEV_INVALID with the deferral reason in *why.
 *
 * smtp_tls_prune() is the guard for what STARTTLS (smtp_proto.c) does
 * not do yet: servers whose level is a DANE one, or any server under
 * smtp_tls_wrappermode, are dropped from an address list with a deferral
 * reason, so that such mail is never sent in clear.  The levels "may",
 * "encrypt", "fingerprint", "verify" and "secure" pass: STARTTLS enforces
 * them per session.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/dns.h"
#include "global/params.h"
#include "maps/maps.h"
#include "smtp.h"
#include "smtp_addr.h"
#include "tls/tls_client.h"
#include "util/msg.h"
#include "util/xmalloc.h"

static const char *const level_names[] = {
	[SMTP_TLS_LEV_NONE] = "none",
	[SMTP_TLS_LEV_MAY] = "may",
	[SMTP_TLS_LEV_ENCRYPT] = "encrypt",
	[SMTP_TLS_LEV_FPRINT] = "fingerprint",
	[SMTP_TLS_LEV_HALF_DANE] = "half-dane",
	[SMTP_TLS_LEV_DANE] = "dane",
	[SMTP_TLS_LEV_DANE_ONLY] = "dane-only",
	[SMTP_TLS_LEV_VERIFY] = "verify",
	[SMTP_TLS_LEV_SECURE] = "secure",
};

static struct maps *policy_maps;	/* smtp_tls_policy_maps */
static struct maps *per_site;	/* smtp_tls_per_site */
static int global_level;

/* smtp_tls_level_name - the policy word of a level */
const char *
smtp_tls_level_name(int level)
{
	if (level >= 0 && level <= SMTP_TLS_LEV_SECURE && level_names[level])
		return level_names[level];
	return "unknown";
}

/* level_lookup - a policy word as a level; "half-dane" is internal */
static int
level_lookup(const char *name)
{
	for (int i = 0; i <= SMTP_TLS_LEV_SECURE; i++)
		if (i != SMTP_TLS_LEV_HALF_DANE && level_names[i]
		    && strcasecmp(name, level_names[i]) == 0)
			return i;
	return SMTP_TLS_LEV_INVALID;
}

void
smtp_tls_policy_init(void)
{
	const char *pfx = smtp_lmtp_mode ? "lmtp" : "smtp";
	char policy_title[40], site_title[40];

	snprintf(policy_title, sizeof(policy_title), "%s_tls_policy_maps", pfx);
	snprintf(site_title, sizeof(site_title), "%s_tls_per_site", pfx);
	if (*var_smtp_tls_security_level) {
		global_level = level_lookup(var_smtp_tls_security_level);
		if (global_level == SMTP_TLS_LEV_INVALID)
			msg_fatal("Invalid TLS level \"%s\"",
				  var_smtp_tls_security_level);
	} else if (var_smtp_enforce_tls) {
		global_level = var_smtp_tls_enforce_peername
		    ? SMTP_TLS_LEV_VERIFY : SMTP_TLS_LEV_ENCRYPT;
	} else {
		global_level = var_smtp_use_tls ? SMTP_TLS_LEV_MAY
		    : SMTP_TLS_LEV_NONE;
	}
	if (*var_smtp_tls_policy_maps) {
		policy_maps = maps_create(policy_title,
					  var_smtp_tls_policy_maps,
					  MAPS_FLAG_LOCK | MAPS_FLAG_FOLD_FIX
					  | MAPS_FLAG_UTF8_REQUEST);
		if (*var_smtp_tls_per_site)
			msg_warn("%s ignored when %s is not empty.",
				 site_title, policy_title);
	} else if (*var_smtp_tls_per_site) {
		per_site = maps_create(site_title,
				       var_smtp_tls_per_site,
				       MAPS_FLAG_LOCK | MAPS_FLAG_FOLD_FIX
				       | MAPS_FLAG_UTF8_REQUEST);
	}
	/* The TLS engine, before the chroot, when TLS may be used at all. */
	if (global_level > SMTP_TLS_LEV_NONE || policy_maps || per_site)
		(void)tls_client_init(smtp_lmtp_mode);
}

/* invalid - a policy problem: defer with Postfix's reason */
static int
invalid(struct smtp_why *why)
{
	smtp_why_set(why, "4.7.5", "client TLS configuration problem");
	return SMTP_TLS_LEV_INVALID;
}

/* is_domain - a destination whose parent domains are looked up too */
static int
is_domain(const char *name)
{
	return *name && *name != '[' && name[strspn(name,
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"0123456789-_.")] == 0;
}

/* attr_set - a policy attribute that may be given once */
static int
attr_set(char **slot, const char *where, const char *name, const char *val)
{
	if (*slot) {
		msg_warn("%s: attribute \"%s\" is specified multiple times",
			 where, name);
		return -1;
	}
	*slot = xstrdup(val);
	return 0;
}

/*
 * policy_attrs - the attributes after the level, checked as Postfix
 * does (a bad one makes the policy invalid); stored when attrs is set.
 */
static int
policy_attrs(char *rest, int level, const char *where,
	     struct smtp_tls_attrs *attrs)
{
	struct smtp_tls_attrs a = { NULL, NULL, NULL, NULL };
	char *tok, *val;
	int ret = 0;

	while (ret == 0 && (tok = strsep(&rest, ", \t\r\n")) != NULL) {
		if (*tok == 0)
			continue;
		if ((val = strchr(tok, '=')) == NULL || val == tok) {
			msg_warn("%s: malformed attribute/value pair \"%s\": %s",
				 where, tok, val ? "missing attribute name"
				 : "missing '=' after attribute name");
			ret = -1;
			break;
		}
		*val++ = 0;
		if (strcasecmp(tok, "ciphers") == 0) {
			if (*val == 0) {
				msg_warn("%s: attribute \"%s\" has empty value",
					 where, tok);
				ret = -1;
			} else {
				ret = attr_set(&a.grade, where, tok, val);
			}
		} else if (strcasecmp(tok, "protocols") == 0) {
			ret = attr_set(&a.protocols, where, tok, val);
		} else if (strcasecmp(tok, "exclude") == 0) {
			ret = attr_set(&a.exclude, where, tok, val);
		} else if (strcasecmp(tok, "match") == 0) {
			if (*val == 0) {
				msg_warn("%s: attribute \"%s\" has empty value",
					 where, tok);
				ret = -1;
			} else if (level != SMTP_TLS_LEV_FPRINT
				   && level != SMTP_TLS_LEV_VERIFY
				   && level != SMTP_TLS_LEV_SECURE) {
				msg_warn("%s: attribute \"%s\" invalid at "
					 "security level \"%s\"", where, tok,
					 smtp_tls_level_name(level));
				ret = -1;
			} else if (a.match == NULL) {
				a.match = xstrdup(val);
			} else {
				/* Several match= add up. */
				char *both = xasprintf("%s%s%s", a.match,
						       level == SMTP_TLS_LEV_FPRINT
						       ? "|" : ":", val);

				free(a.match);
				a.match = both;
			}
		} else {
			/* servername, tafile, connection_reuse: not yet. */
			msg_warn("%s: invalid attribute name: \"%s\"", where,
				 tok);
			ret = -1;
		}
	}
	if (ret == 0 && attrs) {
		*attrs = a;
	} else {
		free(a.grade);
		free(a.protocols);
		free(a.exclude);
		free(a.match);
	}
	return ret;
}

/* smtp_tls_attrs_free - what policy_attrs() stored */
void
smtp_tls_attrs_free(struct smtp_tls_attrs *attrs)
{
	free(attrs->grade);
	free(attrs->protocols);
	free(attrs->exclude);
	free(attrs->match);
	memset(attrs, 0, sizeof(*attrs));
}

/* policy_lookup - smtp_tls_policy_maps for the destination */
static int
policy_lookup(const char *dest, struct smtp_why *why,
	      struct smtp_tls_attrs *attrs)
{
	const char *name = dest, *value = NULL;
	char *copy, *tok, *rest, *where;
	int level;

	do {
		if ((value = maps_find(policy_maps, name, 0)) != NULL)
			break;
		if (policy_maps->error) {
			msg_warn("%s, next-hop destination \"%s\": policy "
				 "table lookup error", policy_maps->title,
				 name);
			return invalid(why);
		}
	} while (is_domain(dest) && (name = strchr(name + 1, '.')) != NULL);
	if (value == NULL)
		return SMTP_TLS_LEV_NOTFOUND;
	rest = copy = xstrdup(value);
	while ((tok = strsep(&rest, ", \t\r\n")) != NULL && *tok == 0)
		;
	if (tok == NULL) {
		msg_warn("%s, next-hop destination \"%s\": invalid empty "
			 "policy", policy_maps->title, name);
		free(copy);
		return invalid(why);
	}
	if ((level = level_lookup(tok)) == SMTP_TLS_LEV_INVALID) {
		msg_warn("%s, next-hop destination \"%s\": invalid security "
			 "level \"%s\"", policy_maps->title, name, tok);
		free(copy);
		return invalid(why);
	}
	where = xasprintf("%s, next-hop destination \"%s\"",
			  policy_maps->title, name);
	if (level < SMTP_TLS_LEV_MAY) {
		while ((tok = strsep(&rest, ", \t\r\n")) != NULL)
			if (*tok)
				msg_warn("%s: ignoring attribute \"%s\" with "
					 "TLS disabled", where, tok);
	} else if (policy_attrs(rest, level, where, attrs) < 0) {
		level = invalid(why);
	}
	free(where);
	free(copy);
	return level;
}

/* site_lookup - smtp_tls_per_site for a destination or host name */
static void
site_lookup(int *level, const char *name, const char *what,
	    struct smtp_why *why)
{
	const char *value = maps_find(per_site, name, 0);

	if (value == NULL) {
		if (per_site->error) {
			msg_warn("%s: %s \"%s\": per-site table lookup error",
				 per_site->title, what, name);
			smtp_why_set(why, "4.3.0", "Temporary lookup error");
			*level = SMTP_TLS_LEV_INVALID;
		}
		return;
	}
	if (strcasecmp(value, "NONE") == 0) {
		if (*level <= SMTP_TLS_LEV_MAY)
			*level = SMTP_TLS_LEV_NONE;
	} else if (strcasecmp(value, "MAY") == 0) {
		if (*level < SMTP_TLS_LEV_NONE)
			*level = SMTP_TLS_LEV_MAY;
	} else if (strcasecmp(value, "MUST_NOPEERMATCH") == 0) {
		if (*level < SMTP_TLS_LEV_ENCRYPT)
			*level = SMTP_TLS_LEV_ENCRYPT;
	} else if (strcasecmp(value, "MUST") == 0) {
		if (*level < SMTP_TLS_LEV_VERIFY)
			*level = SMTP_TLS_LEV_VERIFY;
	} else {
		msg_warn("%s: unknown TLS policy '%s' for %s %s",
			 per_site->title, value, what, name);
		*level = invalid(why);
	}
}

/*
 * The policy of a (destination, host) pair is asked for several times per
 * delivery (address pruning, the cache label, STARTTLS): it is computed
 * once per request, like Postfix's per-process policy cache, so tables
 * are read and their warnings logged once.  smtp_tls_policy_forget()
 * empties the memo at the start of each request.
 */
#define MEMO_SIZE	8

struct memo {
	char *key;		/* dest "\n" host, or NULL */
	int level;
	char status[sizeof(((struct smtp_why *)0)->status)];
	char *reason;
	struct smtp_tls_attrs attrs;
};

static struct memo memo[MEMO_SIZE];
static int memo_next;

/* attrs_copy - a deep copy of policy attributes */
static void
attrs_copy(struct smtp_tls_attrs *to, const struct smtp_tls_attrs *from)
{
	to->grade = from->grade ? xstrdup(from->grade) : NULL;
	to->protocols = from->protocols ? xstrdup(from->protocols) : NULL;
	to->exclude = from->exclude ? xstrdup(from->exclude) : NULL;
	to->match = from->match ? xstrdup(from->match) : NULL;
}

void
smtp_tls_policy_forget(void)
{
	for (int i = 0; i < MEMO_SIZE; i++) {
		free(memo[i].key);
		free(memo[i].reason);
		smtp_tls_attrs_free(&memo[i].attrs);
		memset(&memo[i], 0, sizeof(memo[i]));
	}
	memo_next = 0;
}

static int compute_policy(const char *, const char *, struct smtp_why *,
			  struct smtp_tls_attrs *);

int
smtp_tls_policy(const char *dest, const char *host, struct smtp_why *why,
		struct smtp_tls_attrs *attrs)
{
	char *key = xasprintf("%s\n%s", dest, host);
	struct memo *m = NULL;

	for (int i = 0; i < MEMO_SIZE && m == NULL; i++)
		if (memo[i].key && strcmp(memo[i].key, key) == 0)
			m = &memo[i];
	if (m == NULL) {
		struct smtp_why w = { "", STRBUF_INIT };

		m = &memo[memo_next];
		memo_next = (memo_next + 1) % MEMO_SIZE;
		free(m->key);
		free(m->reason);
		smtp_tls_attrs_free(&m->attrs);
		m->key = key;
		key = NULL;
		m->level = compute_policy(dest, host, &w, &m->attrs);
		memcpy(m->status, w.status, sizeof(m->status));
		m->reason = xstrdup(strbuf_str(&w.reason));
		strbuf_release(&w.reason);
	}
	free(key);
	if (m->level == SMTP_TLS_LEV_INVALID)
		smtp_why_set(why, m->status, "%s", m->reason);
	if (attrs && m->level != SMTP_TLS_LEV_INVALID)
		attrs_copy(attrs, &m->attrs);
	return m->level;
}

/* compute_policy - smtp_tls_policy() without the memo */
static int
compute_policy(const char *dest, const char *host, struct smtp_why *why,
	       struct smtp_tls_attrs *attrs)
{
	struct smtp_tls_attrs a = { NULL, NULL, NULL, NULL };
	int level = SMTP_TLS_LEV_NOTFOUND;

	if (policy_maps) {
		level = policy_lookup(dest, why, &a);
	} else if (per_site) {
		site_lookup(&level, dest, "next-hop destination", why);
		if (level != SMTP_TLS_LEV_INVALID && strcasecmp(dest, host) != 0)
			site_lookup(&level, host, "server hostname", why);
		/* A per-site MAY is a wildcard that a stronger global wins. */
		if (level == SMTP_TLS_LEV_MAY && global_level > level)
			level = global_level;
	}
	if (level == SMTP_TLS_LEV_NOTFOUND)
		level = global_level;
	/* "fingerprint" with nothing to match: a configuration problem. */
	if (level == SMTP_TLS_LEV_FPRINT && a.match == NULL
	    && var_smtp_tls_fingerprint_cert_match[strspn(
		    var_smtp_tls_fingerprint_cert_match, ", \t\r\n")] == 0) {
		msg_warn("nexthop domain %s: configured at fingerprint security "
			 "level, but with no fingerprints to match.", dest);
		level = invalid(why);
	}
	if (attrs && level != SMTP_TLS_LEV_INVALID)
		*attrs = a;
	else
		smtp_tls_attrs_free(&a);
	return level;
}

int
smtp_tls_level(const char *dest, const char *host, struct smtp_why *why)
{
	return smtp_tls_policy(dest, host, why, NULL);
}

/*
 * smtp_tls_refuse - 1 when a session with host for dest must not happen
 * in clear (or the policy is broken), with the reason in *why.
 */
int
smtp_tls_refuse(const char *dest, const char *host, struct smtp_why *why)
{
	const char *name;
	int level = var_smtp_tls_wrappermode ? SMTP_TLS_LEV_ENCRYPT
	    : smtp_tls_level(dest, host, why);

	if (level == SMTP_TLS_LEV_INVALID) {
		msg_warn("TLS policy lookup for %s/%s: %s", dest, host,
			 strbuf_str(&why->reason));
		return 1;
	}
	/* STARTTLS does these (smtp_proto.c); not DANE nor wrappermode. */
	if (!var_smtp_tls_wrappermode && level != SMTP_TLS_LEV_HALF_DANE
	    && level != SMTP_TLS_LEV_DANE && level != SMTP_TLS_LEV_DANE_ONLY)
		return 0;
	name = var_smtp_tls_wrappermode ? "wrappermode"
	    : smtp_tls_level_name(level);
	msg_warn("%s: TLS security level \"%s\" is not supported by this "
		 "Postern build; not sending in clear", host, name);
	smtp_why_set(why, "4.7.5", "TLS is required for %s (security level "
		     "%s), but this Postern build cannot do it yet", host,
		     name);
	return 1;
}

/* smtp_tls_prune - drop the servers smtp_tls_refuse() refuses */
int
smtp_tls_prune(struct dns_rr **addrs, const char *dest,
	       struct smtp_why *why)
{
	struct dns_rr *keep = NULL, **tail = &keep, *rr, *next;
	int dropped = 0;

	for (rr = *addrs; rr; rr = next) {
		next = rr->next;
		rr->next = NULL;
		if (smtp_tls_refuse(dest, smtp_addr_hname(rr), why)) {
			dns_rr_free(rr);
			dropped++;
		} else {
			*tail = rr;
			tail = &rr->next;
		}
	}
	*addrs = keep;
	return dropped;
}
