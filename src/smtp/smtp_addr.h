/* smtp_addr, smtp_race - server addresses and connection attempts */
#ifndef SMTP_SMTP_ADDR_H
#define SMTP_SMTP_ADDR_H

#include "dns/dns.h"
#include "smtp.h"
#include "util/strbuf.h"

/* A failure in the making: Postfix's DSN_BUF status and text. */
struct smtp_why {
	char status[16];	/* "" = no error yet */
	struct strbuf reason;
};

void smtp_why_set(struct smtp_why *why, const char *status,
		  const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void smtp_why_status(struct smtp_why *why, const char *status);

/* Lookup flags from the configuration (smtp_addr.c). */
#define SMTP_ADDR_FLAG_LOOP_DETECT	(1 << 0)	/* port 25: spot myself */

/* Resolver settings: call once per process (after chroot is fine). */
void smtp_addr_init(void);
int smtp_addr_dns_enabled(void);	/* MX lookups allowed */

/* MX lookup with address lookups of every exchanger, all concurrent. */
struct dns_rr *smtp_domain_addr(const char *name, int flags,
				struct smtp_why *why, int *found_myself);
/* Address lookup of one host name or numeric address. */
struct dns_rr *smtp_host_addr(const char *host, int flags,
			      struct smtp_why *why);
/* A mail address literal ("1.2.3.4", "IPv6:::1") that is this host. */
int smtp_addr_is_mine(const char *literal);
/* The host name to use for a server address record. */
const char *smtp_addr_hname(const struct dns_rr *rr);

/* Connection attempts (smtp_race.c). */
struct smtp_race;

enum smtp_race_result {
	SMTP_RACE_NONE,		/* every address failed: see state->why */
	SMTP_RACE_SESSION,	/* connected; greeting arrived or not yet */
	SMTP_RACE_GREET_TIMEOUT,	/* connected; no greeting in time */
};

struct smtp_race *smtp_race_create(struct smtp_state *state,
				   struct dns_rr *addrs, int count, int port,
				   int delay_ms);
enum smtp_race_result smtp_race_next(struct smtp_race *race, int *fd,
				     const struct dns_rr **rr);
int smtp_race_remaining(const struct smtp_race *race);
void smtp_race_abandon_all(struct smtp_race *race, const char *why);
void smtp_race_free(struct smtp_race *race);
int smtp_race_parse_delay(const char *value, int *ms);

/* Recipients to best_mx_transport (smtp_pass.c); -1 if any deferred. */
int smtp_pass_all(struct smtp_state *state, const char *service);

#endif
