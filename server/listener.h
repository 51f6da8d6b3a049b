/*
 * listener: the listening socket tailord hands to libmicrohttpd.
 *
 * Binding ourselves (rather than letting libmicrohttpd do it) gives a clear
 * error for a port in use or a bad address, supports IPv6 and port 0, and
 * tells the caller which address was actually bound.
 */
#ifndef TAILOR_LISTENER_H
#define TAILOR_LISTENER_H

#include <stddef.h>

/* Opens a non-blocking TCP socket listening on "host:port" or "[v6]:port".
 * Stores the socket in *fd and the bound address ("127.0.0.1:41234") in
 * `bound`. Returns 0, or -1 with a one-line reason in `err`. */
int listener_open(const char *hostport, int *fd /* OUT */, char *bound, size_t boundlen,
                  char *err, size_t errlen);

#endif
