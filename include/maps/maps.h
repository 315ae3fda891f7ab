/* maps - Postfix lookup tables: "type:name" lists, lookups, address keys */
#ifndef MAPS_MAPS_H
#define MAPS_MAPS_H

/*
 * How a consumer uses tables (smtp_generic_maps, smtp_sasl_password_maps,
 * smtp_tls_policy_maps, ...):
 *
 *   pre_init hook (before chroot and privilege drop, so that files and
 *   sockets outside the chroot can be opened):
 *	generic = maps_create("smtp_generic_maps", var_smtp_generic_maps,
 *			      MAPS_FLAGS_DEFAULT);
 *   pre_accept hook (Postfix's restart check):
 *	if ((name = maps_changed()) != NULL) {
 *		msg_info("table %s has changed -- restarting", name);
 *		exit(0);
 *	}
 *   per lookup:
 *	value = maps_find(generic, key, 0);
 *	if (value == NULL && generic->error != 0)
 *		-> defer ("4.3.0 ... lookup error"), never "not found".
 *
 * The spec is Postfix's table list: "type:name" items separated by
 * commas and/or whitespace; braces group an item that contains those
 * (inline:{a=b, c=d}, unionmap:{hash:/x, cidr:/y}, static:{a b}).  An
 * empty spec gives an empty list (every lookup: not found).
 *
 * Errors, as Postfix 3.7 does them:
 *  - an item without ":" is a fatal error (a configuration typo);
 *  - a table that cannot be opened (unknown type, missing or unreadable
 *    file, bad inline syntax) logs "warning: TYPE:NAME is unavailable.
 *    REASON" and stays in the list as a stand-in whose every lookup fails
 *    with MAPS_ERR_CONFIG: callers defer, mail is never mis-delivered;
 *  - a bad rule inside a cidr/regexp/pcre file is a warning naming the
 *    file and line; that rule is skipped (Postfix does the same);
 *  - a lookup that fails (proxymap unreachable, fail: table, a table
 *    above) makes maps_find() return NULL with maps->error set.
 *
 * Tables of the same "type:name" and flags are opened once per process
 * and shared between lists, so a result stays valid only until the next
 * lookup in any list that shares a table: copy it to keep it.
 *
 * Types: hash: and btree: (Berkeley DB files made by postmap, keys with
 * or without their NUL; the open .db file is watched by maps_changed()),
 * texthash:, inline:{k=v, ...}, static:VALUE, static:{VALUE}, cidr:,
 * regexp: (POSIX), pcre: (PCRE2), unionmap:{...}, pipemap:{...},
 * environ:, fail: (every lookup fails: for tests), and proxy:TYPE:NAME
 * through Postfix's proxymap(8), which also reaches every type Postern
 * does not implement itself (lmdb:, cdb:, ldap:, mysql:, ...).
 *
 * Chroot: everything a table needs is opened by maps_create() (files
 * read into memory, .db files kept open), so call it in pre_init.  Only
 * proxy: connects later, to private/proxymap relative to the current
 * directory, which is the queue directory whether chrooted or not.
 */

/* Flags, numerically equal to Postfix's DICT_FLAG_* (proxymap needs that). */
#define MAPS_FLAG_DUP_WARN	(1 << 0)	/* texthash: warn on duplicate
						 * keys, keep the first (else
						 * the table is unavailable,
						 * as in Postfix daemons) */
#define MAPS_FLAG_FIXED		(1 << 4)	/* table has fixed-string keys */
#define MAPS_FLAG_PATTERN	(1 << 5)	/* table keys are patterns */
#define MAPS_FLAG_LOCK		(1 << 6)	/* shared lock around lookups */
#define MAPS_FLAG_FOLD_FIX	(1 << 14)	/* lowercase keys, fixed tables */
#define MAPS_FLAG_FOLD_MUL	(1 << 15)	/* lowercase keys, pattern tables */
#define MAPS_FLAG_UTF8_REQUEST	(1 << 19)

/* What Postfix daemons pass when they open a parameter's tables. */
#define MAPS_FLAGS_DEFAULT	(MAPS_FLAG_LOCK | MAPS_FLAG_FOLD_FIX \
				 | MAPS_FLAG_UTF8_REQUEST)

/* maps->error values (Postfix's DICT_ERR_*) */
#define MAPS_ERR_NONE		0	/* found, or not found */
#define MAPS_ERR_RETRY		(-1)	/* temporary failure: defer */
#define MAPS_ERR_CONFIG		(-2)	/* configuration error: defer */

struct map;

struct maps {
	char *title;		/* parameter name, for messages */
	int error;		/* of the last lookup: MAPS_ERR_* */
	int count;
	struct map **tables;	/* shared handles, reference counted */
	int secret;		/* values are passwords: verbose logs show
				 * neither them nor the table (an inline:
				 * table's name holds its values) */
};

struct maps *maps_create(const char *title, const char *spec, int flags);
void maps_free(struct maps *maps);

/*
 * maps_find - search the tables in order; the first answer wins.  flags
 * 0 asks every table; MAPS_FLAG_FIXED asks only fixed-string tables
 * (hash, texthash, inline, ...), as Postfix does for partial keys like
 * "@domain" that regexp tables must not see.  An empty key is never
 * looked up.  An empty value in a table is a configuration error.
 */
const char *maps_find(struct maps *maps, const char *key, int flags);

/*
 * maps_utf8_enable - override Postfix's smtputf8_enable (by default the
 * loaded parameter var_smtputf8_enable is followed) for tables opened
 * with MAPS_FLAG_UTF8_REQUEST (set it before maps_create()).  When on, a
 * non-ASCII key must be valid UTF-8 (else a warning and "not found"),
 * values must be valid UTF-8 (else a lookup error), and folding
 * lowercases non-ASCII letters too.  Postfix folds with ICU's full case
 * folding; Postern uses the C library's simple mapping plus ICU's
 * one-to-many cases for sharp s, the fi/fl/ff/st ligatures and dotted
 * capital I, which agrees for European scripts but not for every
 * special case of Unicode.
 */
void maps_utf8_enable(int on);

/*
 * maps_changed - the name of the first file-based table (hash:, btree:)
 * whose file was replaced or modified since it was opened, else NULL.
 * The name is the one Postfix logs in "table %s has changed --
 * restarting": "hash:/etc/postfix/x(0,lock|fold_fix|utf8_request)" for a
 * table of a list (the flags it was opened with), "hash:/x" for a member
 * of unionmap:/pipemap:.
 */
const char *maps_changed(void);

/*
 * maps_addr_find - Postfix's mail_addr_find(): look up an address in
 * the order user+ext@domain, user@domain (ext stripped), then, when the
 * domain is local, user+ext and user (LOCALPART_IF_LOCAL) or user+ext@
 * and user@ (LOCALPART_AT_IF_LOCAL), then @domain, then domain (and its
 * parents with PDMS/PDDMDS), then user@ (LOCALPART_AT).  Partial keys
 * only go to fixed-string tables.  The address is given in internal
 * (unquoted) form; opts->query_form says how keys are spelled.  When the answer came from a key without the extension and extp
 * is not NULL, *extp gets the extension with its delimiter (xmalloc'd).
 * The extension is split as Postfix does with its default settings: at
 * the first delimiter character, never when the local part starts with
 * one, nor for postmaster, MAILER-DAEMON, double-bounce, and (when '-'
 * is a delimiter) owner-* and *-request.
 */
#define MAPS_ADDR_FULL			(1 << 0)
#define MAPS_ADDR_NOEXT			(1 << 1)
#define MAPS_ADDR_LOCALPART_IF_LOCAL	(1 << 2)
#define MAPS_ADDR_LOCALPART_AT_IF_LOCAL	(1 << 3)
#define MAPS_ADDR_AT_DOMAIN		(1 << 4)
#define MAPS_ADDR_DOMAIN		(1 << 5)
#define MAPS_ADDR_PDMS			(1 << 6)
#define MAPS_ADDR_PDDMDS		(1 << 7)
#define MAPS_ADDR_LOCALPART_AT		(1 << 8)
#define MAPS_ADDR_DEFAULT	(MAPS_ADDR_FULL | MAPS_ADDR_NOEXT \
				 | MAPS_ADDR_LOCALPART_IF_LOCAL \
				 | MAPS_ADDR_AT_DOMAIN)

/*
 * Query forms (Postfix's MA_FORM_*): which spelling of a local part is
 * used as key.  Internal: as given (unquoted).  External: RFC 5322
 * quoted when it needs quoting ("john doe"@example.com).  The _FIRST
 * forms try one spelling, then the other when it differs.  Postfix's
 * mail_addr_find(), used by smtp_sasl_password_maps and
 * smtp_generic_maps, queries EXTERNAL_FIRST.
 */
#define MAPS_ADDR_QUERY_INTERNAL	0
#define MAPS_ADDR_QUERY_EXTERNAL	1
#define MAPS_ADDR_QUERY_EXTERNAL_FIRST	2
#define MAPS_ADDR_QUERY_INTERNAL_FIRST	3

struct maps_addr_opts {
	int strategy;		/* MAPS_ADDR_*; 0 means MAPS_ADDR_DEFAULT */
	const char *rcpt_delim;	/* recipient_delimiter ("" or NULL: none) */
	/* 1 = local ($myorigin, $mydestination, ...), 0 = not, -1 = error
	 * (becomes MAPS_ERR_RETRY).  NULL: no domain is local. */
	int (*is_local)(const char *domain, void *ctx);
	void *ctx;
	int query_form;		/* MAPS_ADDR_QUERY_* */
};

/* maps_quote_local - the address with its local part quoted as RFC 5322
 * requires (Postfix's quote_822_local); bare: the whole string is a
 * local part.  Returns an xmalloc'd string. */
char *maps_quote_local(const char *address, int bare);

const char *maps_addr_find(struct maps *maps, const char *address,
			   const struct maps_addr_opts *opts, char **extp);

/*
 * Domain lists (fast_flush_domains, ...), Postfix's domain_list (match_list + match_hostname): items are
 * names, ".parent" names, "/file/name" (its lines not starting with '#'
 * are parsed as more items; a missing file becomes a table whose every
 * lookup fails), and "type:table" (looked up with the name, then, for
 * fixed-key tables, with its parent domains), each optionally negated
 * with "!" (a file's negation applies to its items).  A '#' item ends
 * the list with a warning, as in Postfix.  The first matching item
 * decides.  With parent_matches_sub (the parameter is listed in
 * parent_domain_matches_subdomains), "example.com" also matches
 * "sub.example.com" and tables are asked "example.com", else
 * ".example.com".  Names and patterns are case-folded (UTF-8 aware with
 * maps_utf8_enable()).  maps_domain_list_match() returns 1 (matched) or
 * 0 (no match, or a table lookup error: then list->error is set and the
 * caller should defer).
 */
struct maps_domain_list {
	char *title;
	int error;
	int parent_matches_sub;
	int exact;		/* a string list (see below) */
	int count;
	struct maps_domain_pattern *patterns;
};

struct maps_domain_list *maps_domain_list_create(const char *title,
						 const char *spec,
						 int parent_matches_sub);
int maps_domain_list_match(struct maps_domain_list *list, const char *name);
/* The same list as Postfix's host name-or-address list: each pattern
 * may also match the address (literal, [literal], net/len, or a table
 * lookup of the address). */
int maps_namadr_list_match(struct maps_domain_list *list, const char *name,
			   const char *addr);
void maps_domain_list_free(struct maps_domain_list *list);

/*
 * String lists (smtp_connection_cache_destinations), Postfix's
 * string_list: the same syntax, but a name matches only an equal item
 * (case-folded), and a table is asked for the name itself only.  Match
 * and free with the domain list functions.
 */
struct maps_domain_list *maps_string_list_create(const char *title,
						 const char *spec);

/* Split a Postfix list (commas/whitespace, {} grouping): NULL-terminated
 * xmalloc'd vector; free with maps_argv_free().  Braces that enclose a
 * whole item are removed ("{a b}" -> "a b"). */
char **maps_split_list(const char *spec, int strip_outer_braces);
void maps_argv_free(char **argv);

/*
 * Tables the client writes (Postfix's proxy: tables opened read-write):
 * "proxy:TYPE:NAME" through proxywrite(8), which only serves tables in
 * $proxy_write_maps.  maps_writer_open() returns NULL (with *why,
 * xmalloc'd) for any other spec; a refused table is fatal, an unreachable
 * service is retried at each call.  Flags as for maps_create(), e.g.
 * MAPS_FLAG_DUP_REPLACE | MAPS_FLAG_SYNC_UPDATE | MAPS_FLAG_UTF8_REQUEST.
 * Results of maps_writer_get() stay valid until the next call.
 */
#define MAPS_FLAG_DUP_REPLACE	(1 << 7)
#define MAPS_FLAG_SYNC_UPDATE	(1 << 8)

struct maps_writer;

struct maps_writer *maps_writer_open(const char *spec, int flags, char **why);
const char *maps_writer_get(struct maps_writer *w, const char *key,
			    int *error);
int maps_writer_put(struct maps_writer *w, const char *key,
		    const char *value);
int maps_writer_del(struct maps_writer *w, const char *key);
const char *maps_writer_name(const struct maps_writer *w);

#endif
