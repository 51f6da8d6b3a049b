/*
 * cli: one-line errors for the command-line tools (see cli.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define CLI_MAX_LINE 2048

void cli_escape(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    if (cap == 0)
        return;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[5];
        if (*p >= 0x20 && *p != 0x7f) {
            esc[0] = (char)*p;
            esc[1] = '\0';
        } else if (*p == '\n' || *p == '\t' || *p == '\r') {
            esc[0] = '\\';
            esc[1] = *p == '\n' ? 'n' : *p == '\t' ? 't' : 'r';
            esc[2] = '\0';
        } else {
            snprintf(esc, sizeof esc, "\\x%02x", *p);
        }
        size_t len = strlen(esc);
        if (n + len >= cap)
            break;
        memcpy(out + n, esc, len);
        n += len;
    }
    out[n] = '\0';
}

void cli_error(const char *fmt, ...)
{
    char msg[CLI_MAX_LINE], line[CLI_MAX_LINE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t n = strlen(msg);
    if (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    cli_escape(msg, line, sizeof line);
    fprintf(stderr, "%s\n", line);
}
