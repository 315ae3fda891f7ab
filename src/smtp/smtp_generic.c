/*
 * smtp_generic - smtp_generic_maps: outgoing address rewriting
 *
 * smtp_generic_init() opens smtp_generic_maps (lmtp_generic_maps) at
 *	start-up (pre_init, before the chroot), with Postfix's flags.
 * smtp_generic_active() says whether a table is configured.
 * smtp_generic_addr() rewrites one internal-form (unquoted) envelope
 *	address in place: MAIL FROM and RCPT TO use it.
 * smtp_generic_header() rewrites the addresses of one primary message
 *	header that holds sender or recipient addresses (From, To, Cc,
 *	Reply-To, Resent-*, ...: header_opts(3)).
 *
 * The rewriting is Postfix's, step by step, so that the server sees the
 * same bytes as from Postfix's smtp(8):
 *   - lookup order of generic(5): user+ext@domain, user@domain, then
 *     (when the domain is $myorigin, in $mydestination, or an address
 *     literal of this host) user+ext and user, then @domain; keys in
 *     external (quoted) form;
 *   - a value "@otherdomain" keeps the user part (without an unmatched
 *     extension); any other value is parsed as an address list and each
 *     address is made canonical by trivial-rewrite(8) (so "joe" becomes
 *     "joe@$myorigin"); the first one is used, with a warning when there
 *     are more;
 *   - an unmatched address extension is kept only when
 *     propagate_unmatched_extensions contains "generic";
 *   - a header is parsed with tok822(3), each address in it rewritten,
 *     and only when one changed is the header rebuilt: one address per
 *     line joined into lines shorter than 70 columns, continuation
 *     lines starting with a tab.  Otherwise it goes out as it came.
 *
 * Errors: a table lookup that fails, or a value that holds no address,
 * is fatal, as in Postfix 3.7 ("map lookup problem"): the process exits,
 * qmgr(8) defers the recipients and master(8) throttles the transport.
 * Nothing is delivered with a guessed address.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "global/header_opts.h"
#include "global/params.h"
#include "global/quote_addr.h"
#include "global/rewrite_clnt.h"
#include "global/tok822.h"
#include "maps/maps.h"
#include "smtp.h"
#include "smtp_addr.h"
#include "util/msg.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

static struct maps *generic_maps;
static struct maps_domain_list *local_domains;	/* $mydestination */
static int propagate;		/* "generic" in propagate_unmatched_ext.. */

/* Header lines are joined while shorter than this (Postfix's rule). */
#define FOLD_WIDTH	70

/* ext_prop_generic - does the extension-propagation list name "generic" */
static int
ext_prop_generic(const char *value)
{
	static const char *const known[] = {
		"canonical", "virtual", "alias", "forward", "include",
		"generic", NULL,
	};
	char *copy = xstrdup(value), *rest = copy, *word;
	int found = 0;

	while ((word = strsep(&rest, ", \t\r\n")) != NULL) {
		const char *const *kp;

		if (*word == 0)
			continue;
		for (kp = known; *kp && strcasecmp(*kp, word) != 0; kp++)
			;
		if (*kp == NULL)
			msg_fatal("unknown %s value \"%s\" in \"%s\"",
				  "propagate_unmatched_extensions", word,
				  value);
		if (strcasecmp(word, "generic") == 0)
			found = 1;
	}
	free(copy);
	return found;
}

/* smtp_generic_init - open the table (pre_init: before chroot) */
void
smtp_generic_init(void)
{
	if (*var_smtp_generic_maps == 0)
		return;
	propagate = ext_prop_generic(var_prop_extension);
	generic_maps = maps_create(smtp_lmtp_mode ? "lmtp_generic_maps"
				   : "smtp_generic_maps",
				   var_smtp_generic_maps,
				   MAPS_FLAG_LOCK | MAPS_FLAG_FOLD_FIX
				   | MAPS_FLAG_UTF8_REQUEST);
	/* An exact-match list, as Postfix's resolve_local() uses it. */
	local_domains = maps_string_list_create("mydestination",
						var_mydestination);
}

/* smtp_generic_active - is a generic table configured */
int
smtp_generic_active(void)
{
	return generic_maps != NULL;
}

/*
 * is_local - $myorigin, $mydestination, or [an address of this host]
 * (Postfix's resolve_local()): 1 yes, 0 no, -1 lookup error.
 */
static int
is_local(const char *domain, void *ctx)
{
	size_t len = strlen(domain);
	char *name;
	int ret;

	if (strcasecmp(domain, var_myorigin) == 0)
		return 1;
	/* One trailing dot is ignored; "a.." is nobody's domain. */
	if (len > 0 && domain[len - 1] == '.')
		len--;
	if (len == 0 || domain[len - 1] == '.')
		return 0;
	name = xstrndup(domain, len);
	ret = maps_domain_list_match(local_domains, name);
	if (ret == 0 && local_domains->error)
		ret = -1;
	/* [address]: one of this host's own addresses. */
	if (ret == 0 && len > 2 && name[0] == '[' && name[len - 1] == ']') {
		name[len - 1] = 0;
		ret = smtp_addr_is_mine(name + 1);
	}
	free(name);
	return ret;
}

/* lookup_problem - Postfix's answer to a failed lookup: stop here */
static void __attribute__((noreturn))
lookup_problem(const char *addr)
{
	msg_fatal("%s map lookup problem for %s", generic_maps->title, addr);
}

/*
 * map_address - the rewritten form of an internal-form address (the
 * xmalloc'd internal form of the first address of the table's answer),
 * or NULL when the table has nothing for it.
 */
static char *
map_address(const char *addr)
{
	struct maps_addr_opts opts = {
		.strategy = MAPS_ADDR_DEFAULT,
		.rcpt_delim = var_recipient_delimiter,
		.is_local = is_local,
		.query_form = MAPS_ADDR_QUERY_EXTERNAL,
	};
	struct strbuf value = STRBUF_INIT, ext_form = STRBUF_INIT;
	struct strbuf canon = STRBUF_INIT, first = STRBUF_INIT;
	struct tok822 *tree, **addrs;
	char *ext = NULL, *result = NULL;
	const char *found;
	int count = 0;

	found = maps_addr_find(generic_maps, addr, &opts, &ext);
	/* Verbose lines as Postfix's smtp -v writes them. */
	if (msg_verbose)
		msg_info("mail_addr_find: %s -> %s", addr, found ? found
			 : generic_maps->error ? "(try again)" : "(not found)");
	if (found == NULL) {
		free(ext);
		if (msg_verbose)
			msg_info("mail_addr_map: %s -> %s", addr,
				 generic_maps->error ? "(try again)"
				 : "(not found)");
		if (generic_maps->error)
			lookup_problem(addr);
		if (msg_verbose)
			msg_info("smtp_map11_internal: %s not found", addr);
		return NULL;
	}
	if (*found == '@') {
		/* "@otherdomain": the same user there, extension dropped. */
		const char *at = strrchr(addr, '@');
		size_t ulen = at ? (size_t)(at - addr) : strlen(addr);
		struct strbuf user = STRBUF_INIT;

		if (ext && strlen(ext) <= ulen)
			ulen -= strlen(ext);
		strbuf_append(&user, addr, ulen);
		strbuf_puts(&user, found);
		quote_822_local(&value, strbuf_str(&user));
		strbuf_release(&user);
	} else {
		strbuf_set(&value, found);
	}

	/* The value is an address list; "<>" stands for the null address. */
	if (value.len == 0 || strcmp(strbuf_str(&value), "<>") == 0)
		strbuf_set(&value, "\"\"");
	tree = tok822_parse(strbuf_str(&value));
	addrs = tok822_grep(tree, TOK822_ADDR);
	for (struct tok822 **ap = addrs; *ap; ap++, count++) {
		struct strbuf one = STRBUF_INIT;

		tok822_externalize(&ext_form, (*ap)->head, TOK822_STR_DEFL);
		rewrite_clnt_canon(&canon, strbuf_str(&ext_form));
		unquote_822_local(&one, strbuf_str(&canon));
		if (propagate && ext) {
			const char *at = strrchr(strbuf_str(&one), '@');
			size_t pos = at ? (size_t)(at - one.data) : one.len;
			struct strbuf tmp = STRBUF_INIT;

			strbuf_append(&tmp, one.data, pos);
			strbuf_puts(&tmp, ext);
			strbuf_puts(&tmp, strbuf_str(&one) + pos);
			strbuf_set(&one, strbuf_str(&tmp));
			strbuf_release(&tmp);
		}
		if (msg_verbose)
			msg_info("mail_addr_map: %s -> %d: %s", addr, count,
				 strbuf_str(&one));
		if (count == 0)
			strbuf_set(&first, strbuf_str(&one));
		strbuf_release(&one);
	}
	free(addrs);
	tok822_free_tree(tree);
	if (count == 0) {
		msg_warn("%s lookup of %s returns non-address result \"%s\"",
			 generic_maps->title, addr, strbuf_str(&value));
		lookup_problem(addr);
	}
	if (count > 1)
		msg_warn("multi-valued %s result for %s", generic_maps->title,
			 addr);
	if (msg_verbose)
		msg_info("smtp_map11_internal: %s -> %s", addr,
			 strbuf_str(&first));
	result = xstrdup(strbuf_str(&first));
	free(ext);
	strbuf_release(&value);
	strbuf_release(&ext_form);
	strbuf_release(&canon);
	strbuf_release(&first);
	return result;
}

/* smtp_generic_addr - rewrite an internal-form address; 1 if found */
int
smtp_generic_addr(struct strbuf *addr)
{
	char *mapped;

	if (generic_maps == NULL || addr->len == 0)
		return 0;
	if ((mapped = map_address(strbuf_str(addr))) == NULL)
		return 0;
	strbuf_set(addr, mapped);
	free(mapped);
	return 1;
}

/*
 * map_tree - rewrite one address node of a header.  As in Postfix, the
 * node's members are replaced by a fresh scan of the address's quoted
 * form whether the table had an answer or not.
 */
static int
map_tree(struct tok822 *node)
{
	struct strbuf addr = STRBUF_INIT, quoted = STRBUF_INIT;
	int found;

	tok822_internalize(&addr, node->head, TOK822_STR_DEFL);
	found = smtp_generic_addr(&addr);
	tok822_free_tree(node->head);
	quote_822_local(&quoted, strbuf_str(&addr));
	node->head = tok822_scan(strbuf_str(&quoted), &node->tail);
	strbuf_release(&addr);
	strbuf_release(&quoted);
	return found;
}

/*
 * refold - the rebuilt header (one address per line) made into output
 * lines: a line is joined to the previous one while the result stays
 * under FOLD_WIDTH bytes; lines that do not start with a blank get a
 * leading tab.
 */
static void
refold(struct strbuf *buf)
{
	struct strbuf out = STRBUF_INIT;
	char *text = buf->data, *line, *next;
	size_t out_start = 0;	/* where the current output line began */

	for (line = text; line; line = next) {
		size_t len;

		next = strchr(line, '\n');
		len = next ? (size_t)(next - line) : strlen(line);
		if (next)
			next++;
		if (line == text) {
			strbuf_append(&out, line, len);
			continue;
		}
		if ((size_t)(line - text) + len - out_start < FOLD_WIDTH) {
			strbuf_putc(&out, ' ');
		} else {
			out_start = (size_t)(line - text);
			strbuf_putc(&out, '\n');
			if (*line != ' ' && *line != '\t')
				strbuf_putc(&out, '\t');
		}
		strbuf_append(&out, line, len);
	}
	strbuf_set(buf, strbuf_str(&out));
	strbuf_release(&out);
}

/* smtp_generic_header - rewrite the addresses of one primary header */
int
smtp_generic_header(struct strbuf *buf, const struct header_opts *info)
{
	struct tok822 *tree, **addrs;
	size_t name_len;
	int changed = 0;

	if (generic_maps == NULL || info == NULL
	    || !(info->flags & (HDR_OPT_SENDER | HDR_OPT_RECIP)))
		return 0;
	/* The parser gives "Name:value" with the table's name length. */
	name_len = strlen(info->name);
	if (buf->len <= name_len || buf->data[name_len] != ':')
		return 0;
	tree = tok822_parse(buf->data + name_len + 1);
	addrs = tok822_grep(tree, TOK822_ADDR);
	for (struct tok822 **ap = addrs; *ap; ap++)
		changed |= map_tree(*ap);
	if (changed) {
		strbuf_truncate(buf, name_len);
		strbuf_puts(buf, ": ");
		tok822_externalize(buf, tree, TOK822_STR_HEAD);
		refold(buf);
	}
	free(addrs);
	tok822_free_tree(tree);
	return changed;
}
