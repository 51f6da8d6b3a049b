/*
 * routes: the table of every HTTP endpoint tailord serves. Adding an
 * endpoint means adding its row here and its handler in the module that
 * owns the resource.
 */
#ifndef TAILOR_ROUTES_H
#define TAILOR_ROUTES_H

#include <stddef.h>

#include "router.h"

extern const struct route routes_table[];
extern const size_t routes_count;

#endif
