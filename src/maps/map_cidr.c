/*
 * map_cidr - cidr: tables (IPv4 and IPv6 networks)
 *
 * map_cidr_open() reads a cidr: file: rules "[!]network/length result",
 * "[!]address result" (IPv6 optionally in brackets), "if [!]network",
 * "endif", tried in order.  A key that is not an IP address matches
 * nothing; a rule only applies to keys of its own address family, even
 * when negated.  Bad rules are skipped with Postfix's "cidr map FILE,
 * line N: REASON: skipping this rule".  The file is read at open time.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "maps/maps.h"
#include "util/msg.h"
#include "util/xmalloc.h"

#include "map.h"

enum cidr_op { CIDR_MATCH, CIDR_IF, CIDR_ENDIF };

struct cidr_rule {
	enum cidr_op op;
	int family;
	int match;
	unsigned char net[16], mask[16];
	char *value;
	size_t endif;
};

struct map_cidr {
	struct cidr_rule *rules;
	size_t count;
};

/* family_of - Postfix's rule: a colon means IPv6 */
static int
family_of(const char *addr)
{
	return strchr(addr, ':') ? AF_INET6 : AF_INET;
}

/* cidr_parse - "[addr]/len" into the rule; NULL or a reason */
static char *
cidr_parse(struct cidr_rule *r, char *pattern)
{
	char *slash, *close;
	int bytes, bits;
	long len;

	if (*pattern == '[') {
		pattern++;
		if ((close = strchr(pattern, ']')) == NULL)
			return xasprintf("missing ']' character after \"[%s\"",
					 pattern);
		*close = 0;
		if (close[1] != '/' && close[1] != 0)
			return xasprintf("garbage after \"[%s]\"", pattern);
		slash = close[1] == '/' ? close + 1 : NULL;
	} else {
		slash = strchr(pattern, '/');
	}
	if (slash)
		*slash++ = 0;
	r->family = family_of(pattern);
	bytes = r->family == AF_INET6 ? 16 : 4;
	bits = bytes * 8;
	if (slash == NULL) {
		if (inet_pton(r->family, pattern, r->net) != 1)
			return xasprintf("bad address pattern: \"%s\"",
					 pattern);
		memset(r->mask, 0xff, (size_t)bytes);
		return NULL;
	}
	len = -1;
	if (*slash && strspn(slash, "0123456789") == strlen(slash))
		len = strtol(slash, NULL, 10);
	if (len < 0)
		return xasprintf("bad mask value in \"%s/%s\"", pattern, slash);
	if (len > bits)
		return xasprintf("bad mask length in \"%s/%s\"", pattern, slash);
	if (inet_pton(r->family, pattern, r->net) != 1)
		return xasprintf("bad network value in \"%s/%s\"", pattern,
				 slash);
	memset(r->mask, 0, sizeof(r->mask));
	for (int i = 0; i < bytes; i++) {
		int b = (int)len - 8 * i;

		r->mask[i] = b >= 8 ? 0xff : b <= 0 ? 0
			: (unsigned char)(0xff << (8 - b));
	}
	for (int i = 0; i < bytes; i++) {
		if (r->net[i] & ~r->mask[i]) {
			unsigned char fixed[16];
			char buf[INET6_ADDRSTRLEN];

			for (int j = 0; j < bytes; j++)
				fixed[j] = r->net[j] & r->mask[j];
			inet_ntop(r->family, fixed, buf, sizeof(buf));
			return xasprintf("non-null host address bits in "
					 "\"%s/%s\", perhaps you should use "
					 "\"%s/%ld\" instead", pattern, slash,
					 buf, len);
		}
	}
	return NULL;
}

/* cidr_rule_add - append */
static struct cidr_rule *
cidr_rule_add(struct map_cidr *mc)
{
	mc->rules = xrealloc(mc->rules, (mc->count + 1) * sizeof(*mc->rules));
	memset(&mc->rules[mc->count], 0, sizeof(*mc->rules));
	return &mc->rules[mc->count++];
}

/* negation - skip '!' and white space; returns 1 (match) or 0 (negated) */
static int
negation(char **pp)
{
	int match = 1;

	for (;; (*pp)++) {
		if (**pp == '!')
			match = !match;
		else if (!isspace((unsigned char)**pp))
			break;
	}
	return match;
}

/* cidr_line - parse one logical line; NULL or a reason */
static char *
cidr_line(struct map_cidr *mc, char *p, size_t *stack, size_t *depth)
{
	struct cidr_rule tmp;
	char *why, *pattern, *value;

	memset(&tmp, 0, sizeof(tmp));
	if (strncasecmp(p, "if", 2) == 0 && !isalnum((unsigned char)p[2])) {
		p += 2;
		tmp.match = negation(&p);
		if (*p == 0)
			return xstrdup("no address pattern");
		if ((why = cidr_parse(&tmp, map_trim(p))) != NULL)
			return why;
		tmp.op = CIDR_IF;
		*cidr_rule_add(mc) = tmp;
		if (*depth < 100)
			stack[(*depth)++] = mc->count - 1;
		return NULL;
	}
	if (strncasecmp(p, "endif", 5) == 0 && !isalnum((unsigned char)p[5])) {
		for (p += 5; isspace((unsigned char)*p); p++)
			;
		if (*p)
			return xstrdup("garbage after ENDIF");
		if (*depth == 0)
			return xstrdup("ENDIF without IF");
		cidr_rule_add(mc)->op = CIDR_ENDIF;
		mc->rules[stack[--(*depth)]].endif = mc->count - 1;
		return NULL;
	}
	tmp.match = negation(&p);
	pattern = p;
	while (*p && !isspace((unsigned char)*p))
		p++;
	if (*p)
		*p++ = 0;
	while (isspace((unsigned char)*p))
		p++;
	value = map_trim(p);
	if (*pattern == 0)
		return xstrdup("no address pattern");
	if ((why = cidr_parse(&tmp, pattern)) != NULL)
		return why;
	if (*value == 0)
		return xstrdup("no lookup result");
	tmp.op = CIDR_MATCH;
	tmp.value = xstrdup(value);
	*cidr_rule_add(mc) = tmp;
	return NULL;
}

/* cidr_hit - does the rule's network hold the address? */
static int
cidr_hit(const struct cidr_rule *r, int family, const unsigned char *addr)
{
	int bytes = family == AF_INET6 ? 16 : 4;

	for (int i = 0; i < bytes; i++)
		if ((addr[i] & r->mask[i]) != r->net[i])
			return 0;
	return 1;
}

/* map_cidr_lookup - first applicable rule wins */
static const char *
map_cidr_lookup(struct map *map, const char *key)
{
	struct map_cidr *mc = map->priv;
	unsigned char addr[16];
	int family = family_of(key);

	if (inet_pton(family, key, addr) != 1)
		return NULL;
	for (size_t i = 0; i < mc->count; i++) {
		struct cidr_rule *r = &mc->rules[i];

		switch (r->op) {
		case CIDR_ENDIF:
			break;
		case CIDR_IF:
			if (r->family != family
			    || cidr_hit(r, family, addr) != r->match)
				i = r->endif;
			break;
		case CIDR_MATCH:
			if (r->family == family
			    && cidr_hit(r, family, addr) == r->match)
				return r->value;
			break;
		}
	}
	return NULL;
}

/* map_cidr_close - free rules */
static void
map_cidr_close(struct map *map)
{
	struct map_cidr *mc = map->priv;

	if (mc == NULL)
		return;
	for (size_t i = 0; i < mc->count; i++)
		free(mc->rules[i].value);
	free(mc->rules);
	free(mc);
	map->priv = NULL;
}

/* map_cidr_open - cidr:/path */
int
map_cidr_open(struct map *map, char **why)
{
	struct map_cidr *mc = xcalloc(1, sizeof(*mc));
	struct strbuf line = STRBUF_INIT;
	struct map_reader rd;
	size_t stack[100], depth = 0;
	int if_line[100];

	map->priv = mc;
	map->lookup = map_cidr_lookup;
	map->close = map_cidr_close;
	map->flags |= MAPS_FLAG_PATTERN;
	if (map_reader_open(&rd, map->name) < 0) {
		*why = xasprintf("open %s: %m", map->name);
		return -1;
	}
	while (map_reader_next(&rd, &line)) {
		size_t before = depth;
		char *reason = cidr_line(mc, line.data, stack, &depth);

		if (reason) {
			msg_warn("cidr map %s, line %d: %s: skipping this rule",
				 map->name, rd.lineno, reason);
			free(reason);
		} else if (depth > before) {
			if_line[depth - 1] = rd.lineno;
		}
	}
	while (depth > 0) {
		msg_warn("cidr map %s, line %d: IF has no matching ENDIF",
			 map->name, if_line[depth - 1]);
		mc->rules[stack[--depth]].endif = mc->count;
	}
	map_reader_close(&rd);
	strbuf_release(&line);
	return 0;
}
