/*
 * map_pcre - pcre: tables with PCRE2
 *
 * map_pcre_open() loads a pcre: file with the rule engine of
 * map_regexp.c.  Flags, as Postfix 3.7: i (caseless, on by default),
 * s (dot matches newline, on by default), m, x, A, E, U toggle
 * MULTILINE, EXTENDED, ANCHORED, DOLLAR_ENDONLY, UNGREEDY; X is obsolete
 * (warning).  Unset groups expand to nothing.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>

#include "maps/maps.h"
#include "util/msg.h"
#include "util/xmalloc.h"

#include "map.h"

/* pcre_option - toggle one flag letter */
static int
pcre_option(int c, int *options)
{
	switch (c) {
	case 'i':
		*options ^= PCRE2_CASELESS;
		return 0;
	case 'm':
		*options ^= PCRE2_MULTILINE;
		return 0;
	case 's':
		*options ^= PCRE2_DOTALL;
		return 0;
	case 'x':
		*options ^= PCRE2_EXTENDED;
		return 0;
	case 'A':
		*options ^= PCRE2_ANCHORED;
		return 0;
	case 'E':
		*options ^= PCRE2_DOLLAR_ENDONLY;
		return 0;
	case 'U':
		*options ^= PCRE2_UNGREEDY;
		return 0;
	case 'X':
		return 1;
	}
	return -1;
}

/* pcre_compile_pat - pcre2_compile() */
static void *
pcre_compile_pat(const char *pattern, int options, int nosub, size_t *nsub,
		 struct strbuf *why)
{
	int err;
	PCRE2_SIZE off;
	pcre2_code *re;
	uint32_t count = 0;

	re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
			   (uint32_t)options, &err, &off, NULL);
	if (re == NULL) {
		PCRE2_UCHAR buf[256];

		pcre2_get_error_message(err, buf, sizeof(buf));
		strbuf_printf(why, "error in regex at offset %lu: %s",
			      (unsigned long)off, (char *)buf);
		return NULL;
	}
	pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &count);
	*nsub = count;
	return re;
}

/* pcre_exec_pat - pcre2_match() */
static int
pcre_exec_pat(void *re, const char *subject, long *ovec, size_t nsub)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	PCRE2_SIZE *ov;
	uint32_t n;
	int rc;

	rc = pcre2_match(re, (PCRE2_SPTR)subject, PCRE2_ZERO_TERMINATED, 0, 0,
			 md, NULL);
	if (rc < 0) {
		pcre2_match_data_free(md);
		if (rc == PCRE2_ERROR_NOMATCH)
			return 0;
		msg_warn("pcre map: matching error %d", rc);
		return -1;
	}
	ov = pcre2_get_ovector_pointer(md);
	n = pcre2_get_ovector_count(md);
	for (size_t i = 0; i <= nsub && i < n; i++) {
		if (ov[2 * i] == PCRE2_UNSET) {
			ovec[2 * i] = ovec[2 * i + 1] = -1;
		} else {
			ovec[2 * i] = (long)ov[2 * i];
			ovec[2 * i + 1] = (long)ov[2 * i + 1];
		}
	}
	pcre2_match_data_free(md);
	return 1;
}

/* pcre_free_pat - pcre2_code_free() */
static void
pcre_free_pat(void *re)
{
	pcre2_code_free(re);
}

static const struct map_re_engine pcre_engine = {
	"pcre", PCRE2_CASELESS | PCRE2_DOTALL, 0, pcre_option, pcre_compile_pat,
	pcre_exec_pat, pcre_free_pat,
};

/* map_pcre_open - pcre:/path */
int
map_pcre_open(struct map *map, char **why)
{
	return map_regexp_load(map, &pcre_engine, why);
}
