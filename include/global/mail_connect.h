/* mail_connect - connect to a Postfix internal service */
#ifndef GLOBAL_MAIL_CONNECT_H
#define GLOBAL_MAIL_CONNECT_H

#include "util/stream.h"

struct stream *mail_connect(const char *class_name, const char *service,
			    const char *protocol, int timeout);
struct stream *mail_connect_raw(const char *class_name, const char *service,
				int timeout);

#endif
