/*
 * mail_connect - connect to a Postfix internal service
 *
 * mail_connect() connects to the UNIX-domain socket <class>/<service>
 * relative to the current directory (the queue directory, or the chroot
 * root which is the queue directory), sets the I/O timeout, and checks
 * the server's protocol announcement (the server writes first in the
 * Postfix 3 attribute protocol).  It returns NULL after logging a warning
 * when the service cannot be reached or announces another protocol.
 *
 * mail_connect_raw() only connects and sets the timeout, for a client
 * that reads more than the protocol name from the announcement (cleanup
 * adds the new queue id).  It returns NULL after logging a warning, with
 * errno telling why.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "global/attr.h"
#include "global/mail_connect.h"
#include "util/msg.h"

/* mail_connect_raw - connect, nothing read yet */
struct stream *
mail_connect_raw(const char *class_name, const char *service, int timeout)
{
	struct sockaddr_un sun;
	struct stream *s;
	int fd, saved;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s",
			     class_name, service) >= sizeof(sun.sun_path)) {
		msg_warn("service name too long: %s/%s", class_name, service);
		errno = ENAMETOOLONG;
		return NULL;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		saved = errno;
		msg_warn("socket: %m");
		errno = saved;
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		saved = errno;
		msg_warn("connect to %s: %m", sun.sun_path);
		close(fd);
		errno = saved;
		return NULL;
	}
	s = stream_fdopen(fd);
	stream_set_timeout(s, timeout);
	return s;
}

/* mail_connect - connect and check the announcement */
struct stream *
mail_connect(const char *class_name, const char *service,
	     const char *protocol, int timeout)
{
	struct stream *s;

	if ((s = mail_connect_raw(class_name, service, timeout)) == NULL)
		return NULL;
	if (attr_expect(s, "protocol", protocol) < 0
	    || attr_skip_to_end(s) < 0) {
		msg_warn("%s/%s: bad protocol announcement", class_name,
			 service);
		stream_close(s);
		return NULL;
	}
	return s;
}
