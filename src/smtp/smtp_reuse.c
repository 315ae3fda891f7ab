/*
 * smtp_reuse - connection caching through scache(8), as Postfix 3.7
 *
 * smtp_reuse_init() makes the scache client and reads
 *	smtp_connection_cache_destinations (pre_init: before the chroot,
 *	for tables).  Nothing is cached when that list is empty and
 *	smtp_connection_cache_on_demand is off.
 * smtp_reuse_request_done() drops the scache connection after a request.
 * smtp_cache_policy() decides, once per request, from the bare domain of
 *	the first next hop: a domain in the list both looks up and stores
 *	connections; otherwise, with on-demand caching, the queue manager's
 *	request flags say (it sets them while a destination has a backlog).
 * smtp_reuse_nexthop() looks a connection up by delivery request next hop
 *	(the destination label), smtp_reuse_addr() by server address (the
 *	endpoint label).  Each probes a cached connection with RSET before
 *	handing it out; one that fails the probe is closed and forgotten,
 *	silently, and the caller makes a new connection.
 * smtp_reuse_was_used() says whether an address was already served from
 *	the cache in this request.
 * smtp_save_session() hands a session to the cache under its endpoint
 *	label, and also under the destination label while
 *	state->request_nexthop is set (only the first good session of a
 *	request, so that a less preferred server is never cached in place
 *	of a better one).  The session is freed.
 * smtp_reuse_state_free() releases the per-request cache state.
 *
 * Labels are Postfix 3.7's, so that Postern and Postfix agents could
 * share one scache: fields each followed by a newline, "*" for a field
 * that is empty, base64 for a field that contains a newline or "*".
 *	destination: service name, [sender], request next hop
 *	endpoint: service name, [sender], [current next hop], [host name],
 *		address, port, TLS level
 * The sender is included when smtp_sender_dependent_authentication is on
 * and smtp_sasl_password_maps is set (the credentials may differ per
 * sender), the next hop and host name when smtp_sasl_password_maps is
 * set.  The TLS level is the policy's for the destination and server;
 * only plaintext sessions are cached ("none", or "may" with a server
 * that did not do STARTTLS).  The service name (master.cf) keeps agents
 * with different settings apart.
 *
 * SEE ALSO
 *	postfix-interfaces.md section 6, smtp_session.c (properties),
 *	Postfix smtp_reuse.c, smtp_key.c
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "global/attr.h"
#include "global/params.h"
#include "global/scache.h"
#include "maps/maps.h"
#include "smtp.h"
#include "smtp_addr.h"
#include "util/msg.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

static struct scache *scache;		/* NULL: caching is off */
static struct maps_domain_list *cache_dest;	/* NULL: none listed */

/* smtp_reuse_init - the scache client and the destination list */
void
smtp_reuse_init(void)
{
	if (*var_smtp_connection_cache_destinations)
		cache_dest = maps_string_list_create(smtp_lmtp_mode
			? "lmtp_connection_cache_destinations"
			: "smtp_connection_cache_destinations",
			var_smtp_connection_cache_destinations);
	if (cache_dest || var_smtp_connection_cache_on_demand)
		scache = scache_create(var_scache_service_name,
				       var_connection_cache_protocol_timeout,
				       var_ipc_idle, var_ipc_ttl);
}

/* smtp_reuse_request_done - no scache connection while idle */
void
smtp_reuse_request_done(void)
{
	scache_disconnect(scache);
}

/* smtp_cache_policy - whether this request loads and/or stores sessions */
void
smtp_cache_policy(struct smtp_state *state, const char *domain)
{
	int flags = state->req->flags;

	state->cache_load = state->cache_store = 0;
	if (scache == NULL)
		return;
	/* A table error counts as "not listed", as in Postfix. */
	if (cache_dest && maps_domain_list_match(cache_dest, domain)) {
		state->cache_load = state->cache_store = 1;
	} else if (var_smtp_connection_cache_on_demand) {
		state->cache_load = (flags & DEL_REQ_FLAG_CONN_LOAD) != 0;
		state->cache_store = (flags & DEL_REQ_FLAG_CONN_STORE) != 0;
	}
}

/* key_field - one label field, terminated */
static void
key_field(struct strbuf *label, const char *value)
{
	if (value == NULL || *value == 0) {
		strbuf_puts(label, "*\n");
	} else if (value[strcspn(value, "\n*")] != 0) {
		struct strbuf b64 = STRBUF_INIT;

		attr_base64_encode(&b64, value, strlen(value));
		strbuf_printf(label, "%s\n", strbuf_str(&b64));
		strbuf_release(&b64);
	} else {
		strbuf_printf(label, "%s\n", value);
	}
}

/* sender_key - the sender is part of the labels (SASL per sender) */
static int
sender_key(void)
{
	return var_smtp_sender_dependent_authentication
	    && *var_smtp_sasl_password_maps;
}

/* dest_label - service, [sender], request next hop */
static void
dest_label(struct strbuf *label, const struct smtp_state *state)
{
	strbuf_reset(label);
	key_field(label, var_service_name);
	if (sender_key())
		key_field(label, state->req->sender);
	key_field(label, state->request_nexthop);
}

/* endp_label - service, [sender, next hop, host], address, port, TLS */
static void
endp_label(struct strbuf *label, const struct smtp_state *state,
	   const char *dest, const char *host, const char *addr, int port)
{
	strbuf_reset(label);
	key_field(label, var_service_name);
	if (sender_key())
		key_field(label, state->req->sender);
	if (*var_smtp_sasl_password_maps) {
		key_field(label, dest);
		key_field(label, host);
	}
	key_field(label, addr);
	strbuf_printf(label, "%d\n", port);
	/*
	 * The TLS level of this destination and server, as Postfix keys
	 * it: a plaintext session made under one level is never reused
	 * under another ("none" vs "may" whose server lacked STARTTLS).
	 * Sessions that did TLS are never cached.
	 */
	{
		struct smtp_why why = { "", STRBUF_INIT };

		strbuf_printf(label, "%d\n", smtp_tls_level(dest ? dest : "",
							    host, &why));
		strbuf_release(&why.reason);
	}
}

/* used_add - remember an address served from the cache */
static void
used_add(struct smtp_state *state, const char *addr)
{
	state->cache_used = xrealloc(state->cache_used,
				     (size_t)(state->cache_used_count + 1)
				     * sizeof(*state->cache_used));
	state->cache_used[state->cache_used_count++] = xstrdup(addr);
}

/* smtp_reuse_was_used - was this address served from the cache? */
int
smtp_reuse_was_used(const struct smtp_state *state, const char *addr)
{
	for (int i = 0; i < state->cache_used_count; i++)
		if (strcmp(state->cache_used[i], addr) == 0)
			return 1;
	return 0;
}

/*
 * reuse_common - a cached descriptor back into a session, probed with
 * RSET; NULL when the properties are bad or the probe fails.
 */
static struct smtp_session *
reuse_common(struct smtp_state *state, int fd, const char *label,
	     const char *host, const char *addr, int port,
	     const char *dest_prop, const char *endp_prop)
{
	struct smtp_session *session;

	session = smtp_session_activate(fd, host, addr, port, dest_prop,
					endp_prop);
	if (session == NULL) {
		msg_warn("smtp_reuse_common: bad cached session attribute "
			 "for %s", label);
		return NULL;
	}
	if (session->dest == NULL)
		session->dest = xstrdup(state->dest ? state->dest
					: "");
	session->queue_id = state->req->queue_id;
	state->session = session;
	/* The server may have hung up or timed us out meanwhile. */
	if (smtp_rset(state) < 0 || session->rset_rejected) {
		smtp_session_free(session);
		state->session = NULL;
		return NULL;
	}
	used_add(state, session->addr);
	return session;
}

/* smtp_reuse_nexthop - a session cached under the request next hop */
struct smtp_session *
smtp_reuse_nexthop(struct smtp_state *state, int port)
{
	struct strbuf label = STRBUF_INIT, dprop = STRBUF_INIT;
	struct strbuf eprop = STRBUF_INIT;
	struct smtp_session *session = NULL;
	int fd;

	if (scache == NULL || state->request_nexthop == NULL)
		return NULL;
	dest_label(&label, state);
	if ((fd = scache_find_dest(scache, strbuf_str(&label), &dprop,
				   &eprop)) >= 0)
		session = reuse_common(state, fd, strbuf_str(&label), "", "",
				       port, strbuf_str(&dprop),
				       strbuf_str(&eprop));
	strbuf_release(&label);
	strbuf_release(&dprop);
	strbuf_release(&eprop);
	return session;
}

/* smtp_reuse_addr - a session cached under this server address */
struct smtp_session *
smtp_reuse_addr(struct smtp_state *state, const char *host,
		const char *addr, int port)
{
	struct strbuf label = STRBUF_INIT, eprop = STRBUF_INIT;
	struct smtp_session *session = NULL;
	int fd;

	if (scache == NULL)
		return NULL;
	endp_label(&label, state, state->dest, host, addr, port);
	if ((fd = scache_find_endp(scache, strbuf_str(&label), &eprop)) >= 0)
		session = reuse_common(state, fd, strbuf_str(&label), host,
				       addr, port, NULL, strbuf_str(&eprop));
	strbuf_release(&label);
	strbuf_release(&eprop);
	return session;
}

/* smtp_save_session - into the cache (and freed) */
void
smtp_save_session(struct smtp_state *state)
{
	struct smtp_session *session = state->session;
	struct strbuf dlabel = STRBUF_INIT, elabel = STRBUF_INIT;
	struct strbuf dprop = STRBUF_INIT, eprop = STRBUF_INIT;
	int fd, ttl = var_smtp_connection_cache_time_limit;

	if (scache == NULL)
		msg_panic("smtp_save_session: no connection cache");
	if (state->request_nexthop)
		dest_label(&dlabel, state);
	endp_label(&elabel, state, session->dest, session->host,
		   session->addr, session->port);
	fd = smtp_session_passivate(session, state, &dprop, &eprop);
	state->session = NULL;
	/* The binding first, so that it never points at nothing new. */
	if (state->request_nexthop)
		scache_save_dest(scache, ttl, strbuf_str(&dlabel),
				 strbuf_str(&dprop), strbuf_str(&elabel));
	scache_save_endp(scache, ttl, strbuf_str(&elabel), strbuf_str(&eprop),
			 fd);
	strbuf_release(&dlabel);
	strbuf_release(&elabel);
	strbuf_release(&dprop);
	strbuf_release(&eprop);
}

/* smtp_reuse_state_free - the per-request cache state */
void
smtp_reuse_state_free(struct smtp_state *state)
{
	free(state->request_nexthop);
	state->request_nexthop = NULL;
	for (int i = 0; i < state->cache_used_count; i++)
		free(state->cache_used[i]);
	free(state->cache_used);
	state->cache_used = NULL;
	state->cache_used_count = 0;
}
