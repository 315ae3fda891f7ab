/*
 * dsn - delivery status notification data
 *
 * dsn_create() copies its arguments (NULL means empty); dsn_free()
 * releases.  dsn_attr_put() writes the seven DSN attributes in the order
 * bounce(8), defer(8), trace(8) and qmgr(8) expect.  dsn_valid() checks
 * the RFC 3463 syntax "class.subject.detail" with class 2, 4 or 5,
 * subject 1-3 digits and detail 1-3 digits.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "global/attr.h"
#include "global/dsn.h"
#include "util/xmalloc.h"

static char *
dup_or_empty(const char *s)
{
	return xstrdup(s ? s : "");
}

/* dsn_create - make a DSN record */
struct dsn *
dsn_create(const char *status, const char *action, const char *reason,
	   const char *diag_type, const char *diag_text, const char *mta_type,
	   const char *mta_mname)
{
	struct dsn *d = xmalloc(sizeof(*d));

	d->status = dup_or_empty(status);
	d->action = dup_or_empty(action);
	d->reason = dup_or_empty(reason);
	d->diag_type = dup_or_empty(diag_type);
	d->diag_text = dup_or_empty(diag_text);
	d->mta_type = dup_or_empty(mta_type);
	d->mta_mname = dup_or_empty(mta_mname);
	return d;
}

/* dsn_copy - duplicate a DSN record */
struct dsn *
dsn_copy(const struct dsn *d)
{
	return dsn_create(d->status, d->action, d->reason, d->diag_type,
			  d->diag_text, d->mta_type, d->mta_mname);
}

/* dsn_free - destroy a DSN record */
void
dsn_free(struct dsn *d)
{
	if (d == NULL)
		return;
	free(d->status);
	free(d->diag_type);
	free(d->diag_text);
	free(d->mta_type);
	free(d->mta_mname);
	free(d->action);
	free(d->reason);
	free(d);
}

void
dsn_set_action(struct dsn *d, const char *action)
{
	free(d->action);
	d->action = xstrdup(action);
}

void
dsn_set_status(struct dsn *d, const char *status)
{
	free(d->status);
	d->status = xstrdup(status);
}

/* dsn_attr_put - the seven DSN attributes, in protocol order */
void
dsn_attr_put(struct stream *s, const struct dsn *d)
{
	attr_put_str(s, "status", d->status);
	attr_put_str(s, "diag_type", d->diag_type);
	attr_put_str(s, "diag_text", d->diag_text);
	attr_put_str(s, "mta_type", d->mta_type);
	attr_put_str(s, "mta_mname", d->mta_mname);
	attr_put_str(s, "action", d->action);
	attr_put_str(s, "reason", d->reason);
}

/* digits - count 1..3 digits at cp, 0 if not in that range */
static int
digits(const char *cp)
{
	int n = 0;

	while (n < 4 && isdigit((unsigned char)cp[n]))
		n++;
	return (n >= 1 && n <= 3) ? n : 0;
}

/* dsn_valid - length of an x.y.z status at text, 0 if none */
int
dsn_valid(const char *text)
{
	const char *cp = text;
	int n;

	if (*cp != '2' && *cp != '4' && *cp != '5')
		return 0;
	if (cp[1] != '.')
		return 0;
	cp += 2;
	if ((n = digits(cp)) == 0 || cp[n] != '.')
		return 0;
	cp += n + 1;
	if ((n = digits(cp)) == 0)
		return 0;
	cp += n;
	if (*cp && !isspace((unsigned char)*cp))
		return 0;
	return (int)(cp - text);
}
