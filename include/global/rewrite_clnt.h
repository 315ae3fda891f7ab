/* rewrite_clnt - address canonicalisation by Postfix's trivial-rewrite(8) */
#ifndef GLOBAL_REWRITE_CLNT_H
#define GLOBAL_REWRITE_CLNT_H

#include "util/strbuf.h"

/* The "local" rule set on an external-form address; the result replaces
 * out.  Blocks (retrying once a second) until the service answers. */
void rewrite_clnt_canon(struct strbuf *out, const char *addr);

#endif
