/* params - main.cf, -o overrides, $name expansion, the parameter table */
#ifndef GLOBAL_PARAMS_H
#define GLOBAL_PARAMS_H

/*
 * Every parameter the agent reads is one row of src/global/params.def:
 *
 *   PARAM(TYPE, smtp_name, lmtp_name, smtp_default, lmtp_default, var,
 *         min, max)
 *
 * TYPE is STR (expanded string), RAW (string, not expanded), INT, LONG,
 * BOOL or TIME (stored in seconds; the default's unit letter is the
 * default unit).  smtp_name is the name read in SMTP mode, lmtp_name the
 * name read in LMTP mode (NULL when LMTP mode reads smtp_name too; a row
 * whose smtp_name is NULL exists only in LMTP mode).  The C variable is
 * var (char *, int, long), shared by both personalities: in LMTP mode
 * var_smtp_connect_timeout holds lmtp_connect_timeout.
 */
#define PARAM_STR	1
#define PARAM_RAW	2
#define PARAM_INT	3
#define PARAM_LONG	4
#define PARAM_BOOL	5
#define PARAM_TIME	6

#define PARAM(type, sname, lname, sdef, ldef, var, min, max) \
	PARAM_DECL_##type(var);
#define PARAM_DECL_STR(v)	extern char *v
#define PARAM_DECL_RAW(v)	extern char *v
#define PARAM_DECL_INT(v)	extern int v
#define PARAM_DECL_LONG(v)	extern long v
#define PARAM_DECL_BOOL(v)	extern int v
#define PARAM_DECL_TIME(v)	extern int v
#include "../../src/global/params.def"
#undef PARAM

struct param_info {
	int type;
	const char *smtp_name;
	const char *lmtp_name;
	const char *smtp_default;
	const char *lmtp_default;
	void *var;
	long min, max;
};

extern const struct param_info param_table[];
extern const int param_table_size;

/* Which personality is reading: decides smtp_ vs lmtp_ names. */
extern int params_lmtp_mode;

/*
 * params_read_main_cf() reads $config_dir/main.cf (fatal if unreadable
 * when it exists; a missing file means all defaults, as with postconf).
 * params_override() records one "-o name=value" (applied last, wins over
 * main.cf).  params_load() then expands and converts every table row
 * into its variable; a value that cannot be converted or is out of
 * range is a fatal error naming the parameter, before any delivery.
 */
void params_read_main_cf(const char *config_dir);
void params_override(const char *name_equals_value);
void params_set(const char *name, const char *value);
void params_load(int lmtp_mode);

/* The expanded value of any parameter (table, main.cf or built-in
 * default such as myhostname); NULL if unknown.  Result is owned by the
 * params module and stays valid until the next params_* call. */
const char *param_get(const char *name);
/* The raw (unexpanded) value as configured, or default; NULL unknown. */
const char *param_get_raw(const char *name);

/* Expand $name, ${name}, ${name?text}, ${name:text}, ${name?{t}:{f}},
 * ${{a} == {b} ? {t} : {f}} (also !=, <level, <=level, >level, >=level)
 * against the current parameters.  Returns a new string, or NULL with
 * *err set to a static message for bad syntax. */
char *param_expand(const char *value, const char **err);

/* Conversions (return 0 ok, -1 bad syntax) */
int param_parse_bool(const char *value, int *out);
int param_parse_time(const char *value, int default_unit, int *out);
int param_parse_long(const char *value, long *out);

#endif
