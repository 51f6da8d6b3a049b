/*
 * log: JSON-lines diagnostics and access log on stderr (see log.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *const level_names[] = {"debug", "info", "warn", "error"};

/* Formats the current UTC time as RFC 3339 with milliseconds. */
static void format_now(char *buf, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

void log_json_escape(char *dst, size_t cap, size_t *len, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = *len;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[7];
        size_t elen;
        switch (*p) {
        case '"':  memcpy(esc, "\\\"", 2); elen = 2; break;
        case '\\': memcpy(esc, "\\\\", 2); elen = 2; break;
        case '\n': memcpy(esc, "\\n", 2); elen = 2; break;
        case '\r': memcpy(esc, "\\r", 2); elen = 2; break;
        case '\t': memcpy(esc, "\\t", 2); elen = 2; break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[*p >> 4];
                esc[5] = hex[*p & 15];
                elen = 6;
            } else {
                esc[0] = (char)*p;
                elen = 1;
            }
        }
        if (n + elen + 1 > cap)
            break;
        memcpy(dst + n, esc, elen);
        n += elen;
    }
    dst[n] = '\0';
    *len = n;
}

/* Appends formatted text; keeps the buffer NUL-terminated and never
 * overflows. */
static void append(char *dst, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *dst, size_t cap, size_t *len, const char *fmt, ...)
{
    if (*len + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(dst + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    *len += (size_t)n < cap - *len ? (size_t)n : cap - *len - 1;
}

static void emit(char *line, size_t cap, size_t len)
{
    /* Always end with "}\n", even when the content was truncated. */
    if (len + 3 > cap)
        len = cap - 3;
    line[len++] = '}';
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char msg[1024], now[40], line[1400];
    size_t len = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    format_now(now, sizeof now);
    append(line, sizeof line, &len, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"",
           now, level_names[level]);
    log_json_escape(line, sizeof line - 3, &len, msg);
    append(line, sizeof line - 2, &len, "\"");
    emit(line, sizeof line, len);
}

void log_access(const char *remote, const char *method, const char *path,
                unsigned status, uint64_t bytes, double duration_ms)
{
    char now[40], line[1400];
    size_t len = 0;
    format_now(now, sizeof now);
    append(line, sizeof line, &len, "{\"time\":\"%s\",\"type\":\"access\",\"remote\":\"%s\","
           "\"method\":\"", now, remote);
    log_json_escape(line, sizeof line - 200, &len, method);
    append(line, sizeof line, &len, "\",\"path\":\"");
    log_json_escape(line, sizeof line - 120, &len, path);
    append(line, sizeof line - 2, &len,
           "\",\"status\":%u,\"bytes\":%llu,\"duration_ms\":%.3f", status,
           (unsigned long long)bytes, duration_ms);
    emit(line, sizeof line, len);
}
