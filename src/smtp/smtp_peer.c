/*
 * smtp_peer - debug_peer_list: more verbose logging for chosen peers
 *
 * smtp_debug_peer_init() builds the list at start-up (before the chroot:
 * it may name files and tables).  smtp_debug_peer_check() raises
 * msg_verbose by debug_peer_level when the name or address matches, as
 * Postfix does for a request's next hop ("noaddr") and for each server;
 * the first match holds until smtp_debug_peer_restore().
 */
#include <stdlib.h>
#include <string.h>

#include "global/params.h"
#include "maps/maps.h"
#include "smtp.h"
#include "util/msg.h"

static struct maps_domain_list *peers;
static int saved_verbose = -1;	/* -1: not raised */

/*
 * smtp_parent_style - whether a domain list parameter is named in
 * parent_domain_matches_subdomains ("example.com" matching its
 * subdomains), as Postfix decides per parameter.
 */
int
smtp_parent_style(const char *name)
{
	char **argv = maps_split_list(var_parent_domain_matches_subdomains, 0);
	int found = 0;

	for (char **ap = argv; *ap && !found; ap++)
		found = strcmp(*ap, name) == 0;
	maps_argv_free(argv);
	return found;
}

void
smtp_debug_peer_init(void)
{
	if (*var_debug_peer_list == 0)
		return;
	peers = maps_domain_list_create("debug_peer_list", var_debug_peer_list,
					smtp_parent_style("debug_peer_list"));
}

int
smtp_debug_peer_check(const char *name, const char *addr)
{
	if (peers == NULL || saved_verbose >= 0
	    || !maps_namadr_list_match(peers, name, addr))
		return 0;
	saved_verbose = msg_verbose;
	msg_verbose += var_debug_peer_level;
	return 1;
}

void
smtp_debug_peer_restore(void)
{
	if (saved_verbose >= 0) {
		msg_verbose = saved_verbose;
		saved_verbose = -1;
	}
}
