/*
 * quote_addr - RFC 822 quoting of an address's local part
 *
 * quote_822_local_flags() appends an address with its local part turned
 * into a quoted-string when it is not a valid dot-atom, which is how
 * Postfix writes addresses in their "external" form ("a b"@x).  The local
 * part is everything before the last '@' (all of it with
 * QUOTE_BARE_LOCALPART), after any "@host,@host:" source route, which is
 * never quoted.  With QUOTE_8BITCLEAN, 8-bit bytes are ordinary
 * characters; without it they force quoting and get a backslash.
 * quote_822_local() is the same with Postfix's default (8-bit clean).
 *
 * unquote_822_local() writes the "internal" form: quotes and backslashes
 * of the local part removed, the text after the last unquoted '@' and any
 * source route left as they are.
 *
 * log_address() appends an address the way info_log_address_format says
 * logs should show it (external: quoted; internal: as is).
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "global/params.h"
#include "global/quote_addr.h"

/* dot_atom_ok - can this local part go out unquoted */
static int
dot_atom_ok(const char *start, const char *end, int flags)
{
	if (start == end || *start == '.' || end[-1] == '.')
		return 0;
	for (const char *cp = start; cp < end; cp++) {
		unsigned char ch = (unsigned char)*cp;

		if (ch == '.' && cp + 1 < end && cp[1] == '.')
			return 0;
		if (ch > 127 && !(flags & QUOTE_8BITCLEAN))
			return 0;
		if (ch == ' ' || (ch < 128 && iscntrl(ch))
		    || strchr("()<>@,;:\\\"[]", ch))
			return 0;
	}
	return 1;
}

/* route_end - where the local part starts: after "@a,@b:" if present */
static const char *
route_end(const char *addr)
{
	const char *colon;

	if (addr[0] == '@' && (colon = strchr(addr, ':')) != NULL)
		return colon + 1;
	return addr;
}

/* quote_822_local_flags - append addr in external (quoted) form */
void
quote_822_local_flags(struct strbuf *out, const char *addr, int flags)
{
	const char *start = route_end(addr);
	const char *end = NULL;

	if (!(flags & QUOTE_BARE_LOCALPART))
		end = strrchr(start, '@');
	if (end == NULL)
		end = start + strlen(start);
	if (dot_atom_ok(start, end, flags)) {
		strbuf_puts(out, addr);
		return;
	}
	strbuf_append(out, addr, (size_t)(start - addr));
	strbuf_putc(out, '"');
	for (const char *cp = start; cp < end; cp++) {
		unsigned char ch = (unsigned char)*cp;

		if (ch == '"' || ch == '\\' || ch == '\r'
		    || (ch > 127 && !(flags & QUOTE_8BITCLEAN)))
			strbuf_putc(out, '\\');
		strbuf_putc(out, ch);
	}
	strbuf_putc(out, '"');
	strbuf_puts(out, end);
}

/* quote_822_local - append addr in external form, 8-bit clean */
void
quote_822_local(struct strbuf *out, const char *addr)
{
	quote_822_local_flags(out, addr, QUOTE_8BITCLEAN);
}

/* unquote_822_local - replace out with addr in internal form */
void
unquote_822_local(struct strbuf *out, const char *addr)
{
	const char *start = route_end(addr);
	const char *last_at = NULL;
	size_t at_pos = 0;
	int quoted = 0;

	strbuf_reset(out);
	strbuf_append(out, addr, (size_t)(start - addr));
	for (const char *cp = start; *cp; cp++) {
		if (*cp == '"') {
			quoted = !quoted;
			continue;
		}
		if (*cp == '@' && !quoted) {
			last_at = cp;
			at_pos = out->len;
		} else if (*cp == '\\') {
			if (cp[1] == 0)
				continue;	/* a lone trailing backslash */
			cp++;
		}
		strbuf_putc(out, *cp);
	}
	/* The domain part keeps its quotes and backslashes. */
	if (last_at) {
		strbuf_truncate(out, at_pos);
		strbuf_puts(out, last_at);
	}
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
