/*
 * testhooks: endpoints that exist only when TAILOR_TEST_HOOKS=1, so the
 * integration tests can hold a request in flight or send a body. Never
 * routed in a normal tailord.
 */
#ifndef TAILOR_TESTHOOKS_H
#define TAILOR_TESTHOOKS_H

#define TESTHOOKS_MAX_SLOW_MS 10000
#define TESTHOOKS_MAX_ECHO 65536

struct http_req;

/* GET /_test/slow?ms=N: answers 200 after N ms (at most 10 s). */
int testhooks_slow(struct http_req *r);

/* POST /_test/echo: answers {"bytes":N} for a body of at most 64 KiB. */
int testhooks_echo(struct http_req *r);

#endif
