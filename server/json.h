/*
 * json: JSON text to cJSON trees and back, fast on number-heavy text.
 *
 * A telemetry report is mostly histogram counts: about a thousand small
 * integers in 5 KiB. cJSON's parser reads every number with localeconv()
 * and strtod(), which made parsing the largest cost of ingesting a report.
 * This parser builds the same tree (every getter works as usual) in one
 * block of memory instead of an allocation per value, and reads an
 * integer of up to 15 digits with a loop, exactly; other numbers still go
 * through strtod. The tree is for reading: never add, detach, replace or
 * delete items in it with cJSON's functions, and free it with json_free. It follows RFC 8259's grammar (cJSON also accepts some
 * non-JSON numbers such as 01 or 1.; they are refused here), nests at most
 * CJSON_NESTING_LIMIT deep as cJSON does, and checks every \u escape
 * (surrogates must pair) as cJSON does; string contents are not otherwise
 * validated (report.h does that).
 *
 * Printing is cJSON_PrintUnformatted's, byte for byte, without its
 * sprintf and sscanf for every integral number.
 */
#ifndef TAILOR_JSON_H
#define TAILOR_JSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Parses one JSON value from the `len` bytes at `text` (no NUL needed),
 * skipping whitespace before it. Returns the tree (free it with
 * json_free) with *end just past the value (the caller decides what may
 * follow), or NULL (invalid text, too deep, or out of memory) with *end
 * at the byte where parsing stopped. */
cJSON *json_parse(const char *text, size_t len, const char **end /* OUT */);

/* Frees a tree json_parse returned. NULL is fine. */
void json_free(cJSON *root);

/* The text cJSON_PrintUnformatted(item) gives, in a new buffer from
 * cJSON_malloc (free it with cJSON_free), its length in *len when `len`
 * is not NULL; NULL when out of memory or `item` is NULL. */
char *json_print(const cJSON *item, size_t *len /* OUT */);

#endif
