/*
 * xsasl_mech - pure helpers of the SASL client: security option names
 * and the mechanism filter
 *
 *   xsasl_security_parse()      "noplaintext, noanonymous" -> SASL_SEC_*
 *   xsasl_mech_filter_create()  smtp_sasl_mechanism_filter, parsed once
 *   xsasl_mech_filter_apply()   the server's AUTH words that pass
 *   xsasl_mech_filter_free()
 *
 * The filter behaves as Postfix's string lists: items are tried in
 * order, "!" inverts an item, the first item that matches decides, and
 * nothing matching means "no".  Names are compared in lower case; a
 * type:table item matches when the mechanism name is found in it.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sasl/sasl.h>

#include "maps/maps.h"
#include "sasl/xsasl.h"
#include "util/msg.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

static const struct {
	const char *name;
	int flag;
} security_names[] = {
	{"noplaintext", SASL_SEC_NOPLAINTEXT},
	{"noactive", SASL_SEC_NOACTIVE},
	{"nodictionary", SASL_SEC_NODICTIONARY},
	{"forward_secrecy", SASL_SEC_FORWARD_SECRECY},
	{"noanonymous", SASL_SEC_NOANONYMOUS},
	{"mutual_auth", SASL_SEC_MUTUAL_AUTH},
	{NULL, 0},
};

/* xsasl_security_parse - option names to libsasl2 flags (case matters) */
int
xsasl_security_parse(const char *options)
{
	char *copy = xstrdup(options), *rest = copy, *name;
	int flags = 0;

	while ((name = strsep(&rest, ", \t\r\n")) != NULL) {
		int i;

		if (*name == 0)
			continue;
		for (i = 0; security_names[i].name; i++)
			if (strcmp(name, security_names[i].name) == 0)
				break;
		if (security_names[i].name == NULL) {
			msg_warn("unknown SASL security options value \"%s\" "
				 "in \"%s\"", name, options);
			free(copy);
			return -1;
		}
		flags |= security_names[i].flag;
	}
	free(copy);
	return flags;
}

struct mech_item {
	int negate;
	char *name;		/* lower case, or NULL for a table */
	struct maps *table;
};

struct xsasl_mech_filter {
	char *title;
	int count;
	struct mech_item *items;
};

/* lowercase - fold a name in place */
static char *
lowercase(char *s)
{
	for (char *cp = s; *cp; cp++)
		*cp = (char)tolower((unsigned char)*cp);
	return s;
}

static void add_items(struct xsasl_mech_filter *filter, const char *spec,
		      int depth);

/* add_file - the items of a /file/name, line by line */
static void
add_file(struct xsasl_mech_filter *filter, const char *path, int depth)
{
	FILE *fp = fopen(path, "r");
	char line[1024];

	if (fp == NULL)
		msg_fatal("%s: open file %s: %m", filter->title, path);
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (line[strspn(line, " \t")] == '#')
			continue;
		add_items(filter, line, depth + 1);
	}
	fclose(fp);
}

/* add_items - parse a list into filter items */
static void
add_items(struct xsasl_mech_filter *filter, const char *spec, int depth)
{
	char **argv = maps_split_list(spec, 1);

	for (char **cpp = argv; *cpp; cpp++) {
		const char *item = *cpp;
		struct mech_item *it;
		int negate = 0;

		while (*item == '!') {
			negate = !negate;
			item++;
		}
		if (*item == '/' && depth < 10) {
			add_file(filter, item, depth);
			continue;
		}
		filter->items = xrealloc(filter->items,
					 (size_t)(filter->count + 1)
					 * sizeof(*filter->items));
		it = &filter->items[filter->count++];
		it->negate = negate;
		if (strchr(item, ':') != NULL) {
			it->name = NULL;
			it->table = maps_create(filter->title, item,
						MAPS_FLAG_LOCK
						| MAPS_FLAG_FOLD_FIX);
		} else {
			it->name = lowercase(xstrdup(item));
			it->table = NULL;
		}
	}
	maps_argv_free(argv);
}

/* xsasl_mech_filter_create - parse the filter; NULL when it is empty */
struct xsasl_mech_filter *
xsasl_mech_filter_create(const char *title, const char *spec)
{
	struct xsasl_mech_filter *filter;

	if (spec == NULL || spec[strspn(spec, ", \t\r\n")] == 0)
		return NULL;
	filter = xcalloc(1, sizeof(*filter));
	filter->title = xstrdup(title);
	add_items(filter, spec, 0);
	return filter;
}

/* match - 1 if the first deciding item lets mech through */
static int
match(struct xsasl_mech_filter *filter, const char *mech)
{
	char *folded = lowercase(xstrdup(mech));
	int result = 0;

	for (int i = 0; i < filter->count; i++) {
		struct mech_item *it = &filter->items[i];
		int hit;

		if (it->table) {
			hit = maps_find(it->table, folded, 0) != NULL;
			if (!hit && it->table->error)
				msg_fatal("xsasl_mech_filter: SASL mechanism "
					  "filter failed for: '%s'", mech);
		} else {
			hit = strcmp(it->name, folded) == 0;
		}
		if (hit) {
			result = !it->negate;
			break;
		}
	}
	free(folded);
	return result;
}

/* xsasl_mech_filter_apply - keep the words the filter lets through */
char *
xsasl_mech_filter_apply(struct xsasl_mech_filter *filter, const char *words)
{
	struct strbuf out = STRBUF_INIT;
	char *copy, *rest, *mech;

	if (filter == NULL || *words == 0)
		return xstrdup(words);
	copy = rest = xstrdup(words);
	while ((mech = strsep(&rest, " \t")) != NULL) {
		if (*mech == 0)
			continue;
		if (match(filter, mech)) {
			if (out.len)
				strbuf_putc(&out, ' ');
			strbuf_puts(&out, mech);
			if (msg_verbose)
				msg_info("sasl_mech_filter: keep SASL "
					 "mechanism: '%s'", mech);
		} else if (msg_verbose) {
			msg_info("sasl_mech_filter: drop SASL mechanism: '%s'",
				 mech);
		}
	}
	free(copy);
	return out.data ? strbuf_take(&out) : xstrdup("");
}

/* xsasl_mech_filter_free - forget the filter */
void
xsasl_mech_filter_free(struct xsasl_mech_filter *filter)
{
	if (filter == NULL)
		return;
	for (int i = 0; i < filter->count; i++) {
		free(filter->items[i].name);
		maps_free(filter->items[i].table);
	}
	free(filter->items);
	free(filter->title);
	free(filter);
}
