/*
 * tls_client - the client side of STARTTLS, on OpenSSL
 *
 * tls_client_init() builds the one SSL_CTX of the process before the
 * chroot (main.cf's smtp_tls_CAfile, smtp_tls_CApath, certificate and
 * key files).  When that fails, TLS is disabled with a warning, as
 * Postfix does, and tls_client_enabled() says so: mail that needs TLS
 * is then deferred by the caller.
 *
 * tls_client_start() runs the handshake on a connected stream (nothing
 * may be buffered in it), with the protocol range and cipher list of
 * the level (the "mandatory" settings from "encrypt" up), and names to
 * match for "verify" and "secure" or certificate digests for
 * "fingerprint".  On success the stream's I/O goes through the TLS
 * connection (stream_set_ops) and one summary line is logged
 * ("Untrusted|Trusted|Verified TLS connection established to ...") when
 * smtp_tls_loglevel asks for it.  On failure NULL is returned after an
 * "SSL_connect error to ..." line: the connection is then unusable.
 *
 * Trust as Postfix reports it: "Trusted" when the chain verifies with
 * the configured CAs, "Verified" when, moreover, the level asked for a
 * match (host names or fingerprints) and it matched.  tls_client_matched()
 * tells whether a level that needs a match got one.
 *
 * tls_client_stop() sends close_notify (unless the session failed) and
 * frees the TLS state; the stream goes back to plain I/O.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "global/params.h"
#include "tls/tls_client.h"
#include "util/msg.h"
#include "util/strbuf.h"
#include "util/xmalloc.h"

/* smtp_tls_loglevel bits, as Postfix names them */
#define LOG_SUMMARY	(1 << 1)
#define LOG_UNTRUSTED	(1 << 2)
#define LOG_PEERCERT	(1 << 3)
#define LOG_CERTMATCH	(1 << 4)
#define LOG_VERBOSE	(1 << 5)

struct tls_client_sess {
	SSL *ssl;
	char *namaddr;
	int log_mask;
	int present, trusted, matched, secured;
	/* the first chain error, for the log */
	int verify_err;
	char verify_issuer[256];
};

static SSL_CTX *client_ctx;
static int ex_index = -1;
static int lmtp_mode;

/* loglevel_mask - smtp_tls_loglevel as a mask */
static int
loglevel_mask(const char *value)
{
	char *copy = xstrdup(value), *rest = copy, *w;
	int mask = 0;

	while ((w = strsep(&rest, ", \t\r\n")) != NULL) {
		if (*w == 0)
			continue;
		if (strcmp(w, "0") == 0 || strcasecmp(w, "none") == 0)
			mask |= 1;
		else if (strcmp(w, "1") == 0 || strcasecmp(w, "routine") == 0
			 || strcasecmp(w, "summary") == 0)
			mask |= LOG_SUMMARY;
		else if (strcasecmp(w, "untrusted") == 0)
			mask |= LOG_UNTRUSTED;
		else if (strcasecmp(w, "peercert") == 0)
			mask |= LOG_PEERCERT;
		else if (strcasecmp(w, "certmatch") == 0)
			mask |= LOG_CERTMATCH;
		else if (strcasecmp(w, "verbose") == 0)
			mask |= LOG_VERBOSE;
		else if (w[0] >= '2' && w[0] <= '9' && w[1] == 0)
			mask |= LOG_SUMMARY | LOG_VERBOSE;
		else if (strcasecmp(w, "debug") == 0
			 || strcasecmp(w, "ssl-expert") == 0
			 || strcasecmp(w, "ssl-developer") == 0)
			mask |= LOG_SUMMARY | LOG_VERBOSE;
		else
			msg_warn("invalid %s value \"%s\": ignored", lmtp_mode
				 ? "lmtp_tls_loglevel" : "smtp_tls_loglevel", w);
	}
	free(copy);
	return mask;
}

/* log_ssl_errors - OpenSSL's error queue, one line each, then empty */
static void
log_ssl_errors(void)
{
	unsigned long err;
	char buf[256];
	const char *file, *data;
	int line, flags;

	while ((err = ERR_get_error_all(&file, &line, NULL, &data,
					&flags)) != 0) {
		ERR_error_string_n(err, buf, sizeof(buf));
		if (flags & ERR_TXT_STRING)
			msg_warn("TLS library problem: %s:%s:%d:%s:", buf, file,
				 line, data);
		else
			msg_warn("TLS library problem: %s:%s:%d:", buf, file,
				 line);
	}
}

/* verify_cb - let every handshake finish; remember the first error */
static int
verify_cb(int ok, X509_STORE_CTX *store)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(store,
				      SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tls_client_sess *sess = ssl ? SSL_get_ex_data(ssl, ex_index)
	    : NULL;

	if (!ok && sess && sess->verify_err == X509_V_OK) {
		X509 *cert = X509_STORE_CTX_get_current_cert(store);

		sess->verify_err = X509_STORE_CTX_get_error(store);
		if (cert)
			X509_NAME_oneline(X509_get_issuer_name(cert),
					  sess->verify_issuer,
					  sizeof(sess->verify_issuer));
		else
			snprintf(sess->verify_issuer,
				 sizeof(sess->verify_issuer), "<unknown>");
	}
	return 1;
}

/* param_name - smtp_ or lmtp_ name of a parameter, for messages */
static const char *
param_name(const char *suffix)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "%s_%s", lmtp_mode ? "lmtp" : "smtp",
		 suffix);
	return buf;
}

/* load_cert - the client certificate and key, when configured */
static int
load_cert(const char *cert_file, const char *key_file)
{
	if (*cert_file == 0)
		return 0;
	if (*key_file == 0)
		key_file = cert_file;
	ERR_clear_error();
	if (SSL_CTX_use_certificate_chain_file(client_ctx, cert_file) != 1) {
		msg_warn("cannot get RSA certificate from file \"%s\": "
			 "disabling TLS support", cert_file);
		log_ssl_errors();
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(client_ctx, key_file,
					SSL_FILETYPE_PEM) != 1) {
		msg_warn("cannot get RSA private key from file \"%s\": "
			 "disabling TLS support", key_file);
		log_ssl_errors();
		return -1;
	}
	if (SSL_CTX_check_private_key(client_ctx) != 1) {
		msg_warn("RSA private key in %s does not match public key in "
			 "%s: disabling TLS support", key_file, cert_file);
		return -1;
	}
	return 0;
}

/*
 * tls_client_init - the process's SSL_CTX, before the chroot.  Returns
 * 0, or -1 when TLS is disabled (with a warning).
 */
int
tls_client_init(int lmtp)
{
	const char *CAfile = var_smtp_tls_CAfile, *CApath = var_smtp_tls_CApath;

	lmtp_mode = lmtp;
	if (client_ctx)
		return 0;
	if (ex_index < 0)
		ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if ((client_ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		log_ssl_errors();
		msg_warn("cannot allocate client SSL_CTX: disabling TLS "
			 "support");
		return -1;
	}
	/* Certificates are judged after the handshake, by the level. */
	SSL_CTX_set_verify(client_ctx, SSL_VERIFY_PEER, verify_cb);
	SSL_CTX_set_verify_depth(client_ctx, var_smtp_tls_scert_verifydepth
				 + 1);
	SSL_CTX_set_session_cache_mode(client_ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_min_proto_version(client_ctx, 0);
	if (*CAfile || *CApath) {
		if (SSL_CTX_load_verify_locations(client_ctx,
						  *CAfile ? CAfile : NULL,
						  *CApath ? CApath : NULL)
		    != 1) {
			/* Postfix's wording: CAfile="...", CApath="..." */
			msg_info("cannot load Certification Authority data, "
				 "%s%s%s%s%s%s: disabling TLS support",
				 *CAfile ? "CAfile=\"" : "", CAfile,
				 *CAfile ? (*CApath ? "\", " : "\"") : "",
				 *CApath ? "CApath=\"" : "", CApath,
				 *CApath ? "\"" : "");
			log_ssl_errors();
			goto bad;
		}
		if (var_tls_append_default_CA
		    && SSL_CTX_set_default_verify_paths(client_ctx) != 1) {
			msg_info("cannot set default OpenSSL certificate "
				 "verification paths: disabling TLS support");
			log_ssl_errors();
			goto bad;
		}
	}
	if (load_cert(var_smtp_tls_cert_file, var_smtp_tls_key_file) < 0)
		goto bad;
	return 0;
bad:
	SSL_CTX_free(client_ctx);
	client_ctx = NULL;
	return -1;
}

/* tls_client_enabled - the context exists */
int
tls_client_enabled(void)
{
	return client_ctx != NULL;
}

/* version_of - an OpenSSL protocol version of a Postfix name, 0 if none */
static int
version_of(const char *name, int *index)
{
	static const struct {
		const char *name;
		int version;
	} table[] = {
		{"SSLv3", SSL3_VERSION}, {"TLSv1", TLS1_VERSION},
		{"TLSv1.1", TLS1_1_VERSION}, {"TLSv1.2", TLS1_2_VERSION},
		{"TLSv1.3", TLS1_3_VERSION},
	};

	for (int i = 0; i < (int)(sizeof(table) / sizeof(table[0])); i++)
		if (strcasecmp(name, table[i].name) == 0) {
			*index = i;
			return table[i].version;
		}
	return 0;
}

/*
 * tls_client_protocols - a Postfix protocol list (">=TLSv1", "!SSLv3,
 * !TLSv1", "TLSv1.2 TLSv1.3", "<=TLSv1.2") as an OpenSSL version range
 * (0 = no bound) and SSL_OP_NO_* holes.  -1 for a bad list.
 */
int
tls_client_protocols(const char *list, int *min, int *max, long *no_mask)
{
	static const long no_op[] = { SSL_OP_NO_SSLv3, SSL_OP_NO_TLSv1,
		SSL_OP_NO_TLSv1_1, SSL_OP_NO_TLSv1_2, SSL_OP_NO_TLSv1_3 };
	static const int versions[] = { SSL3_VERSION, TLS1_VERSION,
		TLS1_1_VERSION, TLS1_2_VERSION, TLS1_3_VERSION };
	char *copy = xstrdup(list), *rest = copy, *w;
	int include = 0, exclude = 0, lo = 0, hi = 4, i, ret = 0;

	while ((w = strsep(&rest, ", :\t\r\n")) != NULL) {
		if (*w == 0)
			continue;
		if (strncmp(w, ">=", 2) == 0) {
			if (version_of(w + 2, &i) == 0)
				ret = -1;
			else if (i > lo)
				lo = i;
		} else if (strncmp(w, "<=", 2) == 0) {
			if (version_of(w + 2, &i) == 0)
				ret = -1;
			else if (i < hi)
				hi = i;
		} else if (*w == '!') {
			if (strcasecmp(w + 1, "SSLv2") == 0)
				continue;
			if (version_of(w + 1, &i) == 0)
				ret = -1;
			else
				exclude |= 1 << i;
		} else if (strcasecmp(w, "SSLv2") == 0) {
			continue;
		} else if (version_of(w, &i) == 0) {
			ret = -1;
		} else {
			include |= 1 << i;
		}
	}
	free(copy);
	if (include)
		exclude |= ~include & 0x1f;
	*no_mask = 0;
	for (i = 0; i < 5; i++)
		if (exclude & (1 << i))
			*no_mask |= no_op[i];
	/* Narrow the range to what is left between the holes. */
	while (lo <= hi && (exclude & (1 << lo)))
		lo++;
	while (hi >= lo && (exclude & (1 << hi)))
		hi--;
	if (lo > hi)
		return -1;
	*min = lo == 0 ? 0 : versions[lo];
	*max = hi == 4 ? 0 : versions[hi];
	return ret;
}

/* cipher_list - the OpenSSL cipher list of a grade, with exclusions */
static int
cipher_list(struct strbuf *out, const char *grade, const char *excl1,
	    const char *excl2, const char *excl3)
{
	const char *base;
	const char *excl[3] = { excl1, excl2, excl3 };

	if (strcasecmp(grade, "high") == 0)
		base = var_tls_high_cipherlist;
	else if (strcasecmp(grade, "medium") == 0)
		base = var_tls_medium_cipherlist;
	else if (strcasecmp(grade, "low") == 0)
		base = var_tls_low_cipherlist;
	else if (strcasecmp(grade, "export") == 0)
		base = var_tls_export_cipherlist;
	else if (strcasecmp(grade, "null") == 0)
		base = var_tls_null_cipherlist;
	else
		return -1;
	strbuf_reset(out);
	strbuf_puts(out, base);
	for (int i = 0; i < 3; i++) {
		char *copy = xstrdup(excl[i] ? excl[i] : ""), *rest = copy, *w;

		while ((w = strsep(&rest, ", :\t\r\n")) != NULL)
			if (*w)
				strbuf_printf(out, ":!%s", w);
		free(copy);
	}
	return 0;
}

/* hex_of - colon-separated upper-case hex of a digest */
static void
hex_of(struct strbuf *out, const unsigned char *md, unsigned int len)
{
	strbuf_reset(out);
	for (unsigned int i = 0; i < len; i++)
		strbuf_printf(out, i ? ":%02X" : "%02X", md[i]);
}

/* same_hex - two fingerprints alike, ignoring case and colons */
static int
same_hex(const char *a, const char *b)
{
	for (;;) {
		while (*a == ':')
			a++;
		while (*b == ':')
			b++;
		if (*a == 0 || *b == 0)
			return *a == *b;
		if ((*a | 0x20) != (*b | 0x20))
			return 0;
		a++, b++;
	}
}

/*
 * fingerprint_match - a certificate or public-key digest of the peer in
 * the list.  Logs the digests with LOG_CERTMATCH/PEERCERT/VERBOSE.
 */
static int
fingerprint_match(struct tls_client_sess *sess, X509 *peer,
		  const char *list)
{
	const EVP_MD *md = EVP_get_digestbyname(var_smtp_tls_fingerprint_digest);
	unsigned char buf[EVP_MAX_MD_SIZE];
	unsigned int len;
	struct strbuf cert = STRBUF_INIT, pkey = STRBUF_INIT;
	char *copy, *rest, *w;
	int found = 0;

	if (md == NULL) {
		msg_warn("%s: digest algorithm \"%s\" not found",
			 sess->namaddr, var_smtp_tls_fingerprint_digest);
		return 0;
	}
	if (X509_digest(peer, md, buf, &len) == 1)
		hex_of(&cert, buf, len);
	if (X509_pubkey_digest(peer, md, buf, &len) == 1)
		hex_of(&pkey, buf, len);
	rest = copy = xstrdup(list);
	while (!found && (w = strsep(&rest, ", \t\r\n|")) != NULL)
		if (*w && ((cert.len && same_hex(w, strbuf_str(&cert)))
			   || (pkey.len && same_hex(w, strbuf_str(&pkey)))))
			found = 1;
	free(copy);
	strbuf_release(&cert);
	strbuf_release(&pkey);
	return found;
}

/* add_names - the names a "verify" or "secure" certificate must carry */
static int
add_names(SSL *ssl, const struct tls_client_props *props,
	  const char *list)
{
	char *copy = xstrdup(list), *rest = copy, *w;
	int count = 0;

	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS
			  | (var_tls_wildcard_matches_multiple_labels ? 0
			     : X509_CHECK_FLAG_SINGLE_LABEL_SUBDOMAINS));
	while ((w = strsep(&rest, ", :\t\r\n")) != NULL) {
		char *name = NULL;

		if (*w == 0)
			continue;
		if (strcasecmp(w, "hostname") == 0)
			name = xstrdup(props->host);
		else if (strcasecmp(w, "nexthop") == 0)
			name = xstrdup(props->nexthop);
		else if (strcasecmp(w, "dot-nexthop") == 0)
			name = xasprintf(".%s", props->nexthop);
		else if (strcmp(w, ".") == 0) {
			msg_warn("%s: ignoring invalid match name: \".\"",
				 props->namaddr);
			continue;
		} else
			name = xstrdup(w);
		if (SSL_add1_host(ssl, name) != 1)
			msg_warn("%s: error loading match name: \"%s\"",
				 props->namaddr, name);
		else
			count++;
		free(name);
	}
	free(copy);
	return count;
}

/* sess_free - forget a session */
static void
sess_free(struct tls_client_sess *sess)
{
	if (sess->ssl)
		SSL_free(sess->ssl);
	free(sess->namaddr);
	free(sess);
}

/*
 * io_result - an SSL_read_ex/SSL_write_ex failure in the stream's terms.
 * When reading, a clean close or EOF without close_notify is 0.
 */
static ssize_t
io_result(struct tls_client_sess *sess, int rc, int reading)
{
	switch (SSL_get_error(sess->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		return STREAM_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return STREAM_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		if (reading)
			return 0;
		break;
	case SSL_ERROR_SYSCALL:
		if (errno == 0) {
			if (reading)
				return 0;	/* EOF without close_notify */
			errno = EPIPE;
		}
		return STREAM_IO_ERR;
	default:
		break;
	}
	log_ssl_errors();
	errno = EPROTO;
	return STREAM_IO_ERR;
}

/* tls_read - SSL_read_ex as a stream hook */
static ssize_t
tls_read(void *ctx, int fd, void *buf, size_t len)
{
	struct tls_client_sess *sess = ctx;
	size_t n = 0;
	int rc;

	(void)fd;
	ERR_clear_error();
	errno = 0;
	if ((rc = SSL_read_ex(sess->ssl, buf, len, &n)) == 1)
		return (ssize_t)n;
	return io_result(sess, rc, 1);
}

/* tls_write - SSL_write_ex as a stream hook */
static ssize_t
tls_write(void *ctx, int fd, const void *buf, size_t len)
{
	struct tls_client_sess *sess = ctx;
	size_t n = 0;
	int rc;

	(void)fd;
	ERR_clear_error();
	errno = 0;
	if ((rc = SSL_write_ex(sess->ssl, buf, len, &n)) == 1)
		return (ssize_t)n;
	return io_result(sess, rc, 0);
}

static const struct stream_ops tls_ops = { tls_read, tls_write };

/* handshake - SSL_connect with a per-wait timeout; 1 ok, <= 0 failed */
static int
handshake(struct tls_client_sess *sess, int fd, int timeout)
{
	for (;;) {
		struct pollfd pfd = { fd, 0, 0 };
		int rc, n;

		ERR_clear_error();
		errno = 0;
		if ((rc = SSL_connect(sess->ssl)) == 1)
			return 1;
		switch (SSL_get_error(sess->ssl, rc)) {
		case SSL_ERROR_WANT_READ:
			pfd.events = POLLIN;
			break;
		case SSL_ERROR_WANT_WRITE:
			pfd.events = POLLOUT;
			break;
		default:
			return rc;
		}
		do
			n = poll(&pfd, 1, timeout > 0 ? timeout * 1000 : -1);
		while (n < 0 && errno == EINTR);
		if (n == 0)
			errno = ETIMEDOUT;
		if (n <= 0)
			return -1;
	}
}

/* log_verify_error - why the chain was not trusted, as Postfix says */
static void
log_verify_error(const struct tls_client_sess *sess)
{
	int err = sess->verify_err;

	switch (err) {
	case X509_V_OK:
		break;
	case X509_V_ERR_CERT_UNTRUSTED:
		msg_info("certificate verification failed for %s: not trusted "
			 "by local or TLSA policy", sess->namaddr);
		break;
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		msg_info("certificate verification failed for %s: self-signed "
			 "certificate", sess->namaddr);
		break;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		msg_info("certificate verification failed for %s: untrusted "
			 "issuer %s", sess->namaddr, sess->verify_issuer);
		break;
	case X509_V_ERR_CERT_NOT_YET_VALID:
	case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
		msg_info("server certificate verification failed for %s: "
			 "certificate not yet valid", sess->namaddr);
		break;
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
		msg_info("server certificate verification failed for %s: "
			 "certificate has expired", sess->namaddr);
		break;
	case X509_V_ERR_INVALID_PURPOSE:
		msg_info("certificate verification failed for %s: not "
			 "designated for use as a server certificate",
			 sess->namaddr);
		break;
	default:
		msg_info("server certificate verification failed for %s: "
			 "num=%d:%s", sess->namaddr, err,
			 X509_verify_cert_error_string(err));
		break;
	}
}

/* log_summary - the one line per handshake */
static void
log_summary(const struct tls_client_sess *sess)
{
	struct strbuf msg = STRBUF_INIT;
	const SSL_CIPHER *cipher = SSL_get_current_cipher(sess->ssl);
	int alg_bits = 0, use_bits = SSL_CIPHER_get_bits(cipher, &alg_bits);
	EVP_PKEY *key = NULL;
	X509 *peer;
	int nid;

	strbuf_printf(&msg, "%s TLS connection established to %s: %s with "
		      "cipher %s (%d/%d bits)", !sess->present ? "Anonymous"
		      : sess->secured ? "Verified" : sess->trusted ? "Trusted"
		      : "Untrusted", sess->namaddr, SSL_get_version(sess->ssl),
		      SSL_CIPHER_get_name(cipher), use_bits, alg_bits);
	/* Key exchange and signature details: TLS 1.3 only, as Postfix. */
	if (SSL_version(sess->ssl) >= TLS1_3_VERSION) {
		if (SSL_get_peer_tmp_key(sess->ssl, &key) == 1) {
			char curve[80];
			size_t len = 0;

			switch (EVP_PKEY_base_id(key)) {
			case EVP_PKEY_DH:
				strbuf_printf(&msg, " key-exchange DHE (%d bits)",
					      EVP_PKEY_bits(key));
				break;
			case EVP_PKEY_EC:
				strbuf_puts(&msg, " key-exchange ECDHE");
				if (EVP_PKEY_get_utf8_string_param(key,
					    "group", curve, sizeof(curve),
					    &len) == 1)
					strbuf_printf(&msg, " (%s)", curve);
				break;
			default:
				strbuf_printf(&msg, " key-exchange %s",
				      OBJ_nid2sn(EVP_PKEY_base_id(key)));
				break;
			}
			EVP_PKEY_free(key);
		}
		if ((peer = SSL_get0_peer_certificate(sess->ssl)) != NULL) {
			EVP_PKEY *pk = X509_get0_pubkey(peer);

			switch (pk ? EVP_PKEY_base_id(pk) : NID_undef) {
			case NID_undef:
				break;
			case EVP_PKEY_RSA:
				strbuf_printf(&msg, " server-signature RSA-PSS "
					      "(%d bits)", EVP_PKEY_bits(pk));
				break;
			case EVP_PKEY_EC: {
				char curve[80];
				size_t len = 0;

				strbuf_puts(&msg, " server-signature ECDSA");
				if (EVP_PKEY_get_utf8_string_param(pk,
					    "group", curve, sizeof(curve),
					    &len) == 1)
					strbuf_printf(&msg, " (%s)", curve);
				break;
			}
			default:
				strbuf_printf(&msg, " server-signature %s",
				      OBJ_nid2sn(EVP_PKEY_base_id(pk)));
				break;
			}
			if (pk && SSL_get_peer_signature_nid(sess->ssl, &nid)
			    == 1 && nid != NID_undef)
				strbuf_printf(&msg, " server-digest %s",
					      OBJ_nid2sn(nid));
		}
	}
	msg_info("%s", strbuf_str(&msg));
	strbuf_release(&msg);
}

/* tls_client_start - STARTTLS's handshake; NULL when it failed */
struct tls_client_sess *
tls_client_start(struct stream *s, const struct tls_client_props *props)
{
	struct tls_client_sess *sess;
	struct strbuf ciphers = STRBUF_INIT;
	int mandatory = props->level >= TLS_LEV_ENCRYPT, min, max, rc;
	const char *protocols = props->protocols ? props->protocols
	    : mandatory ? var_smtp_tls_mandatory_protocols
	    : var_smtp_tls_protocols;
	const char *grade = props->grade ? props->grade
	    : mandatory ? var_smtp_tls_mandatory_ciphers : var_smtp_tls_ciphers;
	/* Encryption needs no eNULL, authentication no aNULL (Postfix). */
	const char *also = props->level == TLS_LEV_ENCRYPT ? "eNULL"
	    : props->level > TLS_LEV_ENCRYPT ? "aNULL" : NULL;
	long no_mask;
	X509 *peer;

	if (client_ctx == NULL)
		return NULL;
	sess = xcalloc(1, sizeof(*sess));
	sess->namaddr = xstrdup(props->namaddr);
	sess->log_mask = loglevel_mask(var_smtp_tls_loglevel);
	if (TLS_MUST_MATCH(props->level))
		sess->log_mask |= LOG_UNTRUSTED;
	if (sess->log_mask & LOG_VERBOSE)
		msg_info("setting up TLS connection to %s", sess->namaddr);
	if (tls_client_protocols(protocols, &min, &max, &no_mask) < 0) {
		msg_warn("%s: Invalid TLS protocol list \"%s\": aborting TLS "
			 "session", sess->namaddr, protocols);
		goto bad;
	}
	if (cipher_list(&ciphers, grade, props->exclusions ? props->exclusions
			: var_smtp_tls_exclude_ciphers, props->exclusions
			|| !mandatory ? NULL
			: var_smtp_tls_mandatory_exclude_ciphers, also) < 0) {
		msg_warn("invalid %s value: \"%s\"", param_name(mandatory
			 ? "tls_mandatory_ciphers" : "tls_ciphers"), grade);
		goto bad;
	}
	if ((sess->ssl = SSL_new(client_ctx)) == NULL) {
		log_ssl_errors();
		goto bad;
	}
	SSL_set_ex_data(sess->ssl, ex_index, sess);
	if (SSL_set_cipher_list(sess->ssl, strbuf_str(&ciphers)) != 1) {
		log_ssl_errors();
		msg_warn("%s: error setting cipher list \"%s\"", sess->namaddr,
			 strbuf_str(&ciphers));
		goto bad;
	}
	if (sess->log_mask & LOG_VERBOSE)
		msg_info("%s: TLS cipher list \"%s\"", sess->namaddr,
			 strbuf_str(&ciphers));
	SSL_set_min_proto_version(sess->ssl, min);
	SSL_set_max_proto_version(sess->ssl, max);
	SSL_set_options(sess->ssl, (uint64_t)no_mask);
	if (props->level == TLS_LEV_VERIFY || props->level == TLS_LEV_SECURE) {
		const char *list = props->matches ? props->matches
		    : props->level == TLS_LEV_VERIFY
		    ? var_smtp_tls_verify_cert_match
		    : var_smtp_tls_secure_cert_match;

		if (add_names(sess->ssl, props, list) == 0)
			msg_warn("%s: could not configure peer name checks",
				 sess->namaddr);
	}
	if (SSL_set_fd(sess->ssl, stream_fd(s)) != 1) {
		msg_info("SSL_set_fd error to %s", sess->namaddr);
		goto bad;
	}
	rc = handshake(sess, stream_fd(s), props->timeout);
	if (rc <= 0) {
		if (ERR_peek_error() != 0) {
			msg_info("SSL_connect error to %s: %d", sess->namaddr,
				 rc);
			log_ssl_errors();
		} else if (errno != 0) {
			msg_info("SSL_connect error to %s: %s", sess->namaddr,
				 strerror(errno));
		} else {
			msg_info("SSL_connect error to %s: lost connection",
				 sess->namaddr);
		}
		goto bad;
	}

	/* Judge the certificate. */
	if ((peer = SSL_get0_peer_certificate(sess->ssl)) != NULL) {
		sess->present = 1;
		if (props->level == TLS_LEV_FPRINT) {
			const char *list = props->matches ? props->matches
			    : var_smtp_tls_fingerprint_cert_match;

			sess->trusted = SSL_get_verify_result(sess->ssl)
			    == X509_V_OK;
			if (fingerprint_match(sess, peer, list)) {
				sess->matched = sess->secured = 1;
			} else if (sess->log_mask & LOG_UNTRUSTED) {
				msg_info("server certificate verification "
					 "failed for %s: num=%d:%s",
					 sess->namaddr,
					 X509_V_ERR_DANE_NO_MATCH,
					 X509_verify_cert_error_string(
					     X509_V_ERR_DANE_NO_MATCH));
			}
		} else if (SSL_get_verify_result(sess->ssl) == X509_V_OK) {
			sess->trusted = 1;
			if (TLS_MUST_MATCH(props->level)) {
				sess->matched = sess->secured = 1;
				if (sess->log_mask & (LOG_CERTMATCH
						      | LOG_VERBOSE
						      | LOG_PEERCERT)
				    && SSL_get0_peername(sess->ssl))
					msg_info("%s: matched peername: %s",
						 sess->namaddr,
						 SSL_get0_peername(sess->ssl));
			}
		}
		if (props->level != TLS_LEV_FPRINT && !sess->matched
		    && (sess->log_mask & LOG_UNTRUSTED))
			log_verify_error(sess);
	}
	strbuf_release(&ciphers);
	stream_set_ops(s, &tls_ops, sess);
	if (sess->log_mask & LOG_SUMMARY)
		log_summary(sess);
	return sess;
bad:
	strbuf_release(&ciphers);
	ERR_clear_error();
	sess_free(sess);
	return NULL;
}

/* tls_client_matched - the certificate met the level's match */
int
tls_client_matched(const struct tls_client_sess *sess)
{
	return sess->matched;
}

/* tls_client_trusted - the chain verified */
int
tls_client_trusted(const struct tls_client_sess *sess)
{
	return sess->trusted;
}

/* tls_client_stop - close_notify unless failed; plain I/O again */
void
tls_client_stop(struct stream *s, struct tls_client_sess *sess, int failure)
{
	if (sess == NULL)
		return;
	if (!failure && s && stream_error(s) == STREAM_OK) {
		ERR_clear_error();
		(void)SSL_shutdown(sess->ssl);
	}
	ERR_clear_error();
	if (s)
		stream_set_ops(s, NULL, NULL);
	sess_free(sess);
}
