/* dsn - delivery status notification data, as Postfix's status daemons see it */
#ifndef GLOBAL_DSN_H
#define GLOBAL_DSN_H

#include "util/stream.h"

/*
 * status is "x.y.z"; action one of failed, delayed, relayed, delivered,
 * expanded, deliverable, undeliverable; reason is the text logged in the
 * status= line's parentheses.  diag_type/diag_text carry the remote reply
 * ("smtp" and the reply), mta_type/mta_mname the remote host ("dns" and
 * its name); all four are empty for local problems.
 */
struct dsn {
	char *status;
	char *diag_type;
	char *diag_text;
	char *mta_type;
	char *mta_mname;
	char *action;
	char *reason;
};

struct dsn *dsn_create(const char *status, const char *action,
		       const char *reason, const char *diag_type,
		       const char *diag_text, const char *mta_type,
		       const char *mta_mname);
struct dsn *dsn_copy(const struct dsn *d);
void dsn_free(struct dsn *d);
void dsn_set_action(struct dsn *d, const char *action);
void dsn_set_status(struct dsn *d, const char *status);
void dsn_attr_put(struct stream *s, const struct dsn *d);

/* dsn_valid - length of a valid x.y.z status at text, 0 if none */
int dsn_valid(const char *text);

#endif
