/*
 * jsonget: cJSON lookups for the paths that read every member of every
 * telemetry report (report validation in tailord, histogram decoding in
 * both): the same answers as cJSON's, without a call into libcjson and a
 * strcmp for each member passed over.
 */
#ifndef TAILOR_JSONGET_H
#define TAILOR_JSONGET_H

#include <string.h>

#include <cjson/cJSON.h>

/* cJSON_GetObjectItemCaseSensitive(o, name): the first member of `o`
 * named `name`, or NULL. */
static inline const cJSON *tailor__json_get(const cJSON *o, const char *name)
{
    if (!o)
        return NULL;
    for (const cJSON *c = o->child; c; c = c->next)
        if (!c->string)
            return NULL; /* not an object's member: cJSON stops there too */
        else if (c->string[0] == name[0] && strcmp(c->string, name) == 0)
            return c;
    return NULL;
}

/* cJSON_IsNumber(item). */
static inline int tailor__json_is_number(const cJSON *item)
{
    return item && (item->type & 0xFF) == cJSON_Number;
}

#endif
