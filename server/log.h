/*
 * log: tailord's diagnostic and access log, JSON lines on stderr.
 *
 * Every line is one JSON object written with a single write(2), so lines
 * from different threads never interleave. Nothing here allocates.
 */
#ifndef TAILOR_LOG_H
#define TAILOR_LOG_H

#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Writes {"time","level","msg", ...} where msg is formatted with printf
 * rules. Messages longer than about 1 KiB are truncated. */
void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Writes one access-log line: time, remote address, method, path, status,
 * bytes of body sent and duration in milliseconds. */
void log_access(const char *remote, const char *method, const char *path,
                unsigned status, uint64_t bytes, double duration_ms);

/* Appends `s` to `dst` (capacity `cap`, current length *len) as the inside
 * of a JSON string, escaping as RFC 8259 requires. Stops, keeping the output
 * valid, when the buffer would overflow. */
void log_json_escape(char *dst, size_t cap, size_t *len, const char *s);

#endif
