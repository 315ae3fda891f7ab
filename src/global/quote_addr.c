/*
 * quote_addr - RFC 822 quoting of an address's local part
 *
 * quote_822_local() appends addr with its local part (everything before
 * the last '@') turned into a quoted-string when it is not a valid
 * dot-atom, as Postfix writes addresses in its "external" form: "a b"@x.
 * 8-bit bytes are left alone.  log_address() appends an address the way
 * info_log_address_format says logs should show it (external: quoted;
 * internal: as is).
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "global/params.h"
#include "global/quote_addr.h"

/* dot_atom_ok - can this local part go out unquoted */
static int
dot_atom_ok(const char *start, const char *end)
{
	if (start == end || *start == '.' || end[-1] == '.')
		return 0;
	for (const char *cp = start; cp < end; cp++) {
		unsigned char ch = (unsigned char)*cp;

		if (ch == '.' && cp + 1 < end && cp[1] == '.')
			return 0;
		if (ch == ' ' || (ch < 128 && iscntrl(ch))
		    || strchr("()<>@,;:\\\"[]", ch))
			return 0;
	}
	return 1;
}

/* quote_822_local - append addr in external (quoted) form */
void
quote_822_local(struct strbuf *out, const char *addr)
{
	const char *at = strrchr(addr, '@');

	if (at == NULL)
		at = addr + strlen(addr);
	if (*addr == 0 || dot_atom_ok(addr, at)) {
		strbuf_puts(out, addr);
		return;
	}
	strbuf_putc(out, '"');
	for (const char *cp = addr; cp < at; cp++) {
		if (*cp == '"' || *cp == '\\' || *cp == '\r')
			strbuf_putc(out, '\\');
		strbuf_putc(out, *cp);
	}
	strbuf_putc(out, '"');
	strbuf_puts(out, at);
}

/* log_address - an address as info_log_address_format wants it */
void
log_address(struct strbuf *out, const char *addr)
{
	if (strcasecmp(var_info_log_address_format, "internal") == 0)
		strbuf_puts(out, addr);
	else
		quote_822_local(out, addr);
}
