/* quote_addr - RFC 822 quoting of an address's local part */
#ifndef GLOBAL_QUOTE_ADDR_H
#define GLOBAL_QUOTE_ADDR_H

#include "util/strbuf.h"

void quote_822_local(struct strbuf *out, const char *addr);
void log_address(struct strbuf *out, const char *addr);

#endif
