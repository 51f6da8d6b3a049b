/*
 * cli: the one-line error convention of tailorctl's subcommands.
 *
 * An error is one line on stderr, whatever it echoes: a path, a name or a
 * flag's value from the command line may hold a newline or a terminal
 * escape, and is printed escaped instead.
 */
#ifndef TAILOR_CLI_H
#define TAILOR_CLI_H

#include <stddef.h>

/* Prints the message `fmt` formats (which ends in "\n") to stderr as one
 * line: every control character before that final newline is written as
 * a C escape (\n, \t, \x1b). At most 2048 bytes are written. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Escapes `s` into `out` (cap bytes, always terminated) as cli_error
 * does; the caller may then write `out` with write(2) where stdio is not
 * allowed (a signal handler's message, prepared beforehand). */
void cli_escape(const char *s, char *out, size_t cap);

#endif
