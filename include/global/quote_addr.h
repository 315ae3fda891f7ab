/* quote_addr - RFC 822 quoting of an address's local part */
#ifndef GLOBAL_QUOTE_ADDR_H
#define GLOBAL_QUOTE_ADDR_H

#include "util/strbuf.h"

#define QUOTE_8BITCLEAN		(1 << 0)	/* 8-bit bytes are plain text */
#define QUOTE_BARE_LOCALPART	(1 << 3)	/* no @domain: all local part */

void quote_822_local_flags(struct strbuf *out, const char *addr, int flags);
void quote_822_local(struct strbuf *out, const char *addr);
void unquote_822_local(struct strbuf *out, const char *addr);
void log_address(struct strbuf *out, const char *addr);

#endif
