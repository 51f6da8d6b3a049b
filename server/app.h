/*
 * app: the running tailord's shared, read-mostly state, handed to every
 * request handler. Built once by tailord.c before the HTTP server starts.
 */
#ifndef TAILOR_APP_H
#define TAILOR_APP_H

#include "config.h"

struct ingest;
struct web;

struct app {
    const struct config *cfg;
    struct ingest *ingest; /* the telemetry queue and its writer thread */
    struct web *web;       /* the dashboard's files; NULL when there is no web root */
    int schema_version;   /* after migrations */
    char instance_id[64]; /* from the meta table */
};

#endif
