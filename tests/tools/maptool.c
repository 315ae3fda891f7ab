/*
 * maptool - query Postern's lookup tables the way "postmap -q" does
 *
 *   maptool [-c confdir] [-f] [-v] -q KEY MAPS    print the value (exit 0),
 *                                         exit 1 not found, 2 lookup error
 *   maptool ... -q - MAPS                  keys on stdin; print "key<TAB>value"
 *                                         for found keys (as postmap -q -)
 *   maptool ... -a ADDRESS MAPS [-D delim] [-L localdomain] [-s strategy]
 *                                         [-F query_form]
 *                                         maps_addr_find()
 *   maptool ... -d NAME LIST [-p]          maps_domain_list_match(): prints
 *                                         "match", "no match" or "error"
 *   maptool ... -w MAPS                    open, then for each stdin line
 *                                         print maps_changed() or "unchanged"
 *
 * -n: daemon mode (no MAPS_FLAG_DUP_WARN: a texthash with duplicate keys
 * is unavailable).  -c reads confdir/main.cf (smtputf8_enable, queue_directory, ...) as
 * postmap -c does; without it, UTF-8 handling is off (as with Postfix's
 * compatibility_level 0).  MAPS is a Postfix list ("hash:/x, regexp:/y").  Diagnostics go to
 * stderr as "maptool: warning: ...".  Used by tests/integration/test_maps*.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "global/params.h"
#include "maps/maps.h"
#include "util/msg.h"

static const char *local_domain;

/* is_local - -L domain */
static int
is_local(const char *domain, void *ctx)
{
	return local_domain && strcasecmp(domain, local_domain) == 0;
}

int
main(int argc, char **argv)
{
	const char *query = NULL, *addr = NULL, *dom = NULL, *conf = NULL;
	const char *delim = NULL;
	/* postmap -q's flags: daemons do not pass DUP_WARN. */
	int flags = MAPS_FLAGS_DEFAULT | MAPS_FLAG_DUP_WARN, watch = 0, pdms = 0, strategy = 0;
	int ch, rc = 0, query_form = MAPS_ADDR_QUERY_INTERNAL;
	struct maps *maps;

	msg_set_ident("maptool");
	msg_stderr_enable(1);
	while ((ch = getopt(argc, argv, "a:c:D:d:F:fL:npq:s:vw")) != -1) {
		switch (ch) {
		case 'a': addr = optarg; break;
		case 'c': conf = optarg; break;
		case 'D': delim = optarg; break;
		case 'F': query_form = atoi(optarg); break;
		case 'd': dom = optarg; break;
		case 'f': flags &= ~MAPS_FLAG_FOLD_FIX; break;
		case 'n': flags &= ~MAPS_FLAG_DUP_WARN; break;
		case 'L': local_domain = optarg; break;
		case 'p': pdms = 1; break;
		case 'q': query = optarg; break;
		case 's': strategy = (int)strtol(optarg, NULL, 0); break;
		case 'v': msg_verbose++; break;
		case 'w': watch = 1; break;
		default:
			fprintf(stderr, "usage: see the comment in maptool.c\n");
			return 2;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "maptool: need one table list argument\n");
		return 2;
	}
	if (conf) {
		params_read_main_cf(conf);
		params_load(0);
	}
	if (dom) {
		struct maps_domain_list *list =
			maps_domain_list_create("list", argv[optind], pdms);
		int m = maps_domain_list_match(list, dom);

		printf("%s\n", m ? "match" : list->error ? "error" : "no match");
		rc = m ? 0 : list->error ? 2 : 1;
		maps_domain_list_free(list);
		return rc;
	}
	maps = maps_create("maptool", argv[optind], flags);
	if (watch) {
		char line[256];
		const char *name;

		while (fgets(line, sizeof(line), stdin)) {
			name = maps_changed();
			printf("%s\n", name ? name : "unchanged");
			fflush(stdout);
		}
	} else if (addr) {
		struct maps_addr_opts opts = {
			.strategy = strategy, .rcpt_delim = delim,
			.is_local = is_local, .query_form = query_form,
		};
		char *ext = NULL;
		const char *v = maps_addr_find(maps, addr, &opts, &ext);

		if (v)
			printf("%s%s%s\n", v, ext ? " ext=" : "", ext ? ext : "");
		rc = v ? 0 : maps->error ? 2 : 1;
		free(ext);
	} else if (query && strcmp(query, "-") == 0) {
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;
		const char *v;

		rc = 1;
		while ((n = getline(&line, &cap, stdin)) >= 0) {
			if (n > 0 && line[n - 1] == '\n')
				line[--n] = 0;
			if ((v = maps_find(maps, line, 0)) != NULL) {
				printf("%s\t%s\n", line, v);
				rc = 0;
			} else if (maps->error) {
				printf("%s\t<error %d>\n", line, maps->error);
			}
			fflush(stdout);
		}
		free(line);
	} else if (query) {
		const char *v = maps_find(maps, query, 0);

		if (v)
			printf("%s\n", v);
		rc = v ? 0 : maps->error ? 2 : 1;
	}
	maps_free(maps);
	return rc;
}
