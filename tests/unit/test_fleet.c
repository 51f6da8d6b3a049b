/* Unit tests of server/fleet.c's writer: batches (rollups merged in
 * memory, written once), duplicates, and retention. On a real database in
 * a temporary directory, with the example report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "db.h"
#include "fleet.h"
#include "metrics.h"
#include "report.h"
#include "rowhist.h"
#include "tailor.h"
#include "tmpdir.h"

#define EXAMPLE "schema/examples/telemetry-report.json"
#define EXAMPLE_ID "5f0c8e1a9b2d4c6e8f1a3b5c7d9e0f12"
#define WINDOW_END 1764003600 /* the example's */
#define DAY 86400

struct fixture {
    char dir[64];
    sqlite3 *db;
    struct fleet_writer *w;
    char *example;
};

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    char err[256];
    int v;
    assert_non_null(test_tmpdir(fx->dir, sizeof fx->dir, "fleet"));
    assert_int_equal(db_open(fx->dir, &fx->db, err, sizeof err), 0);
    assert_int_equal(db_migrate(fx->db, &v, err, sizeof err), 0);
    assert_int_equal(sqlite3_exec(fx->db, "INSERT INTO apps (id, name, created) VALUES (1, 'notes', 0)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    fx->w = fleet_writer_new(fx->db, err, sizeof err);
    assert_non_null(fx->w);
    fx->example = read_file(EXAMPLE);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    fleet_writer_free(fx->w);
    db_close(fx->db);
    assert_int_equal(test_rmtree(fx->dir), 0);
    free(fx->example);
    free(fx);
    metrics_inference_rollback(0);
    return 0;
}

/* The example with report id `id`, install id `install` and its window
 * moved by `shift` seconds, prepared for writing. */
static struct fleet_report *example(struct fixture *fx, const char *id, const char *install,
                                    int64_t shift)
{
    char *text = strdup(fx->example), field[256], err[512];
    char *at = strstr(text, EXAMPLE_ID);
    memcpy(at, id, 32);
    at = strstr(text, "a3f1c2d4e5b6978812ab34cd56ef7890");
    memcpy(at, install, 32);
    struct report rep;
    assert_int_equal(report_parse(text, strlen(text), &rep, field, sizeof field, err, sizeof err),
                     0);
    rep.window_start += shift;
    rep.window_end += shift;
    struct fleet_report *p = fleet_report_new(&rep, err, sizeof err);
    assert_non_null(p);
    report_free(&rep);
    free(text);
    return p;
}

/* Writes the reports as one batch received at `now`; each result into rc[]. */
static void write_batch(struct fixture *fx, struct fleet_report **p, size_t n, int64_t now,
                        int *rc)
{
    char err[512];
    assert_int_equal(sqlite3_exec(fx->db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    for (size_t i = 0; i < n; i++)
        rc[i] = fleet_write(fx->w, p[i], 1, "0123456789abcdef", now, err, sizeof err);
    assert_int_equal(fleet_flush(fx->w, now, err, sizeof err), 0);
    assert_int_equal(sqlite3_exec(fx->db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
}

static int64_t query(struct fixture *fx, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(fx->db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* The count of the stored histogram `sql` selects (packed or text). */
static int64_t hist_count(struct fixture *fx, const char *sql)
{
    sqlite3_stmt *st;
    struct rowhist h = {0};
    assert_int_equal(sqlite3_prepare_v2(fx->db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(rowhist_column(&h, st, 0), 0);
    sqlite3_finalize(st);
    int64_t n = (int64_t)h.count;
    rowhist_free(&h);
    return n;
}

static void a_batch_counts_each_report_once_and_merges_rollups(void **state)
{
    struct fixture *fx = *state;
    int64_t now = WINDOW_END + 60;
    struct fleet_report *p[4] = {
        example(fx, "00000000000000000000000000000001", "a0000000000000000000000000000001", 0),
        example(fx, "00000000000000000000000000000002", "a0000000000000000000000000000001", 0),
        example(fx, "00000000000000000000000000000003", "a0000000000000000000000000000002", 0),
        NULL,
    };
    p[3] = p[1]; /* the same report again, in the same batch */
    int rc[4];
    write_batch(fx, p, 4, now, rc);
    assert_int_equal(rc[0], 0);
    assert_int_equal(rc[1], 0);
    assert_int_equal(rc[2], 0);
    assert_int_equal(rc[3], FLEET_DUPLICATE);
    assert_int_equal(query(fx, "SELECT count(*) FROM reports"), 3);
    assert_int_equal(query(fx, "SELECT count(*) FROM report_series"), 6);
    assert_int_equal(query(fx, "SELECT sum(reports) FROM devices"), 3);
    /* One row per class hour and series key, three reports in it. */
    assert_int_equal(query(fx, "SELECT count(*) FROM class_rollups"), 2);
    assert_int_equal(query(fx, "SELECT min(reports) FROM class_rollups"), 3);
    assert_int_equal(
        query(fx, "SELECT samples FROM class_rollups WHERE feature = 'summarize'"), 360);
    assert_int_equal(hist_count(fx, "SELECT latency FROM class_rollups WHERE feature = 'summarize'"),
                     360);
    /* The first device's day holds both of its reports. */
    assert_int_equal(query(fx, "SELECT samples FROM device_stats WHERE feature = 'summarize'"
                               " AND install_id = 'a0000000000000000000000000000001'"),
                     240);
    assert_int_equal(hist_count(fx, "SELECT ttft FROM device_stats WHERE feature = 'summarize'"
                                    " AND install_id = 'a0000000000000000000000000000001'"),
                     2 * hist_count(fx, "SELECT ttft FROM report_series"
                                        " WHERE report_id = '00000000000000000000000000000001'"
                                        " AND idx = 0"));
    /* Stored packed, not as text. */
    assert_int_equal(query(fx, "SELECT count(*) FROM report_series WHERE typeof(latency) != 'blob'"),
                     0);
    assert_int_equal(query(fx, "SELECT count(*) FROM device_stats WHERE typeof(latency) != 'blob'"),
                     0);
    /* A later batch merges into the stored rows. */
    struct fleet_report *q[2] = {
        example(fx, "00000000000000000000000000000004", "a0000000000000000000000000000001", 0),
        p[0], /* a duplicate of an earlier transaction */
    };
    write_batch(fx, q, 2, now + 10, rc);
    assert_int_equal(rc[0], 0);
    assert_int_equal(rc[1], FLEET_DUPLICATE);
    assert_int_equal(query(fx, "SELECT min(reports) FROM class_rollups"), 4);
    assert_int_equal(hist_count(fx, "SELECT latency FROM class_rollups WHERE feature = 'summarize'"),
                     480);
    assert_int_equal(query(fx, "SELECT samples FROM device_stats WHERE feature = 'summarize'"
                               " AND install_id = 'a0000000000000000000000000000001'"),
                     360);
    for (int i = 0; i < 3; i++)
        fleet_report_free(p[i]);
    fleet_report_free(q[0]);
}

/* Rewrites every histogram of `table` as the JSON text rows written
 * before migration 0009 hold (the wire form). */
static void store_as_text(struct fixture *fx, const char *table)
{
    char sql[256];
    sqlite3_stmt *st, *up;
    snprintf(sql, sizeof sql, "SELECT rowid, latency, ttft FROM %s", table);
    assert_int_equal(sqlite3_prepare_v2(fx->db, sql, -1, &st, NULL), SQLITE_OK);
    snprintf(sql, sizeof sql, "UPDATE %s SET latency = ?2, ttft = ?3 WHERE rowid = ?1", table);
    assert_int_equal(sqlite3_prepare_v2(fx->db, sql, -1, &up, NULL), SQLITE_OK);
    struct tailor__hist *full = malloc(sizeof *full);
    struct rowhist h = {0};
    while (sqlite3_step(st) == SQLITE_ROW) {
        sqlite3_bind_int64(up, 1, sqlite3_column_int64(st, 0));
        for (int col = 1; col <= 2; col++) {
            if (sqlite3_column_type(st, col) == SQLITE_NULL)
                continue;
            assert_int_equal(rowhist_column(&h, st, col), 0);
            rowhist_to_hist(&h, full);
            cJSON *j = tailor__hist_to_json(full);
            char *text = cJSON_PrintUnformatted(j);
            sqlite3_bind_text(up, col + 1, text, -1, SQLITE_TRANSIENT);
            cJSON_free(text);
            cJSON_Delete(j);
        }
        assert_int_equal(sqlite3_step(up), SQLITE_DONE);
        sqlite3_reset(up);
        sqlite3_clear_bindings(up);
    }
    sqlite3_finalize(st);
    sqlite3_finalize(up);
    rowhist_free(&h);
    free(full);
}

static void rows_stored_as_text_are_read_merged_and_repacked(void **state)
{
    struct fixture *fx = *state;
    int64_t now = WINDOW_END + 60;
    int rc;
    struct fleet_report *p =
        example(fx, "00000000000000000000000000000001", "a0000000000000000000000000000001", 0);
    write_batch(fx, &p, 1, now, &rc);
    fleet_report_free(p);
    store_as_text(fx, "class_rollups");
    store_as_text(fx, "device_stats");
    assert_int_equal(query(fx, "SELECT count(*) FROM class_rollups WHERE typeof(latency) = 'text'"),
                     2);
    assert_int_equal(hist_count(fx, "SELECT latency FROM class_rollups WHERE feature = 'summarize'"),
                     120);
    /* A second report of the same device and hour merges into them. */
    p = example(fx, "00000000000000000000000000000002", "a0000000000000000000000000000001", 0);
    write_batch(fx, &p, 1, now + 10, &rc);
    fleet_report_free(p);
    assert_int_equal(rc, 0);
    assert_int_equal(hist_count(fx, "SELECT latency FROM class_rollups WHERE feature = 'summarize'"),
                     240);
    assert_int_equal(hist_count(fx, "SELECT ttft FROM device_stats WHERE feature = 'summarize'"),
                     2 * hist_count(fx, "SELECT ttft FROM report_series WHERE idx = 0"
                                        " AND report_id = '00000000000000000000000000000001'"));
    assert_int_equal(query(fx, "SELECT count(*) FROM class_rollups WHERE typeof(latency) = 'text'"
                               " OR typeof(ttft) = 'text'"),
                     0);
    assert_int_equal(query(fx, "SELECT count(*) FROM device_stats WHERE typeof(latency) = 'text'"),
                     0);
    /* And the fleet summary reads text and packed rows alike. */
    store_as_text(fx, "class_rollups");
    cJSON *out = NULL;
    char err[256];
    assert_int_equal(fleet_summary(fx->db, now + 20, 24, NULL, &out, err, sizeof err), 0);
    const cJSON *g = cJSON_GetArrayItem(cJSON_GetObjectItem(out, "groups"), 0);
    assert_non_null(g);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(g, "latency_ms"), "count")->valueint,
                     cJSON_GetObjectItem(g, "samples")->valueint);
    cJSON_Delete(out);
}

static void discarded_batch_leaves_nothing_behind(void **state)
{
    struct fixture *fx = *state;
    char err[512];
    struct fleet_report *p =
        example(fx, "00000000000000000000000000000001", "a0000000000000000000000000000001", 0);
    assert_int_equal(sqlite3_exec(fx->db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(fleet_write(fx->w, p, 1, "k", WINDOW_END, err, sizeof err), 0);
    assert_int_equal(sqlite3_exec(fx->db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    fleet_discard(fx->w);
    /* The same report again: stored, and its rollups counted once. */
    int rc;
    write_batch(fx, &p, 1, WINDOW_END, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(query(fx, "SELECT max(reports) FROM class_rollups"), 1);
    assert_int_equal(query(fx, "SELECT max(samples) FROM device_stats"), 120);
    fleet_report_free(p);
}

/* Runs fleet_retain until nothing is left over; returns the calls made. */
static int retain_all(struct fixture *fx, int64_t now, int days, int limit, int *deleted)
{
    char err[512];
    int calls = 0, more = 1, n;
    *deleted = 0;
    while (more) {
        assert_int_equal(sqlite3_exec(fx->db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
        assert_int_equal(fleet_retain(fx->w, now, days, limit, &n, &more, err, sizeof err), 0);
        assert_int_equal(sqlite3_exec(fx->db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
        /* Six tables at `limit` rows each, and the assignments of `limit`
         * devices (one each here). */
        assert_true(n <= 7 * limit);
        *deleted += n;
        calls++;
        assert_true(calls < 100);
    }
    return calls;
}

static void retention_deletes_old_rows_in_bounded_steps_and_keeps_recent_ones(void **state)
{
    struct fixture *fx = *state;
    int rc, deleted;
    char id[33], install[33];
    /* Five old reports (five devices), received 40 days before "today". */
    int64_t today = WINDOW_END + 100 * (int64_t)DAY;
    int64_t old = today - 40 * (int64_t)DAY, recent = today - 2 * (int64_t)DAY;
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "%032x", i + 1);
        snprintf(install, sizeof install, "b%031x", i + 1);
        struct fleet_report *p = example(fx, id, install, old - WINDOW_END);
        write_batch(fx, &p, 1, old, &rc);
        assert_int_equal(rc, 0);
        fleet_report_free(p);
    }
    /* One 100 days old, one recent. */
    struct fleet_report *p =
        example(fx, "000000000000000000000000000000aa", "c0000000000000000000000000000001", 0);
    write_batch(fx, &p, 1, WINDOW_END, &rc);
    fleet_report_free(p);
    p = example(fx, "000000000000000000000000000000bb", "c0000000000000000000000000000002",
                recent - WINDOW_END);
    write_batch(fx, &p, 1, recent, &rc);
    fleet_report_free(p);
    assert_int_equal(query(fx, "SELECT count(*) FROM reports"), 7);
    /* Assignments of the 100-day-old device and of the recent one, and
     * log entries 100 and 40 days old. */
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO assignments (install_id, feature, target, reason, since, updated)"
             " VALUES ('c0000000000000000000000000000001', 'chat', 'server', 'x', %lld, %lld),"
             " ('c0000000000000000000000000000002', 'chat', 'server', 'x', %lld, %lld);"
             "INSERT INTO assignment_log (install_id, feature, at, to_text, reason) VALUES"
             " ('c0000000000000000000000000000001', 'chat', %lld, 'server', 'x'),"
             " ('b0000000000000000000000000000001', 'chat', %lld, 'server', 'x')",
             (long long)WINDOW_END, (long long)WINDOW_END, (long long)recent, (long long)recent,
             (long long)WINDOW_END, (long long)old);
    assert_int_equal(sqlite3_exec(fx->db, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(query(fx, "SELECT count(DISTINCT hour) FROM release_rollups"), 3);

    /* 30 days kept, two rows a step: several steps, each bounded. */
    int calls = retain_all(fx, today, 30, 2, &deleted);
    assert_true(calls >= 3);
    assert_int_equal(query(fx, "SELECT count(*) FROM reports"), 1);
    assert_int_equal(query(fx, "SELECT count(*) FROM reports"
                               " WHERE id = '000000000000000000000000000000bb'"),
                     1);
    assert_int_equal(query(fx, "SELECT count(*) FROM report_series"), 2); /* cascaded */
    assert_int_equal(query(fx, "SELECT count(*) FROM device_stats"), 2);
    assert_int_equal(query(fx, "SELECT min(day) FROM device_stats"), recent / DAY);
    /* Hourly rollups are kept for the longest summary window (90 days):
     * the 40-day-old hour stays, the 100-day-old one goes. */
    assert_int_equal(query(fx, "SELECT count(DISTINCT hour) FROM class_rollups"), 2);
    assert_int_equal(query(fx, "SELECT min(hour) FROM class_rollups"), old / 3600);
    /* So do release rollups and the assignment log. */
    assert_int_equal(query(fx, "SELECT count(DISTINCT hour) FROM release_rollups"), 2);
    assert_int_equal(query(fx, "SELECT min(hour) FROM release_rollups"), old / 3600);
    assert_int_equal(query(fx, "SELECT count(*) FROM assignment_log"), 1);
    assert_int_equal(query(fx, "SELECT min(at) FROM assignment_log"), old);
    /* Devices seen in the last 90 days stay; the 100-day-old one goes,
     * with its assignment. */
    assert_int_equal(query(fx, "SELECT count(*) FROM devices"), 6);
    assert_int_equal(query(fx, "SELECT count(*) FROM devices"
                               " WHERE install_id = 'c0000000000000000000000000000001'"),
                     0);
    assert_int_equal(query(fx, "SELECT count(*) FROM assignments"), 1);
    assert_int_equal(query(fx, "SELECT count(*) FROM assignments"
                               " WHERE install_id = 'c0000000000000000000000000000002'"),
                     1);

    /* Nothing left: one step, nothing deleted. */
    assert_int_equal(retain_all(fx, today, 30, 2, &deleted), 1);
    assert_int_equal(deleted, 0);

    /* A retention longer than 90 days keeps hourly rollups as long. */
    assert_int_equal(retain_all(fx, today + 20 * (int64_t)DAY, 120, 1000, &deleted), 1);
    assert_int_equal(query(fx, "SELECT count(DISTINCT hour) FROM class_rollups"), 2);
    retain_all(fx, today + 20 * (int64_t)DAY, 1, 1000, &deleted);
    assert_int_equal(query(fx, "SELECT count(*) FROM reports"), 0);
    assert_int_equal(query(fx, "SELECT count(*) FROM class_rollups WHERE hour < "
                               "(1764003600 + 30 * 86400) / 3600"),
                     0);

    /* After the retention, a retried old report id counts again (the
     * documented limit of deduplication). */
    p = example(fx, "00000000000000000000000000000001", "b0000000000000000000000000000001",
                old - WINDOW_END);
    write_batch(fx, &p, 1, today, &rc);
    assert_int_equal(rc, 0);
    fleet_report_free(p);
}

/* The texts of the DELETE statements run while tracing (SQLITE_TRACE_STMT). */
struct deletes {
    char sql[16][1024];
    int n;
};

static int trace_delete(unsigned type, void *ctx, void *p, void *x)
{
    struct deletes *d = ctx;
    (void)type;
    (void)x;
    const char *sql = sqlite3_sql(p);
    if (sql && strncmp(sql, "DELETE", 6) == 0 && d->n < 16)
        snprintf(d->sql[d->n++], sizeof d->sql[0], "%s", sql);
    return 0;
}

/* Every statement fleet_retain runs, as the writer prepared it: each finds
 * its rows through an index and none scans a table. */
static void deleting_old_rows_does_not_scan_a_table(void **state)
{
    struct fixture *fx = *state;
    struct deletes d = {.n = 0};
    char err[256];
    int deleted, more;
    sqlite3_trace_v2(fx->db, SQLITE_TRACE_STMT, trace_delete, &d);
    assert_int_equal(sqlite3_exec(fx->db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(fleet_retain(fx->w, WINDOW_END, 30, 10, &deleted, &more, err, sizeof err), 0);
    assert_int_equal(sqlite3_exec(fx->db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_trace_v2(fx->db, 0, NULL, NULL);
    assert_int_equal(d.n, 7); /* reports, device days, class and release hours, log, assignments, devices */
    for (int i = 0; i < d.n; i++) {
        char explain[1100];
        snprintf(explain, sizeof explain, "EXPLAIN QUERY PLAN %s", d.sql[i]);
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(fx->db, explain, -1, &st, NULL), SQLITE_OK);
        int indexed = 0;
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *detail = (const char *)sqlite3_column_text(st, 3);
            if (strncmp(detail, "SCAN", 4) == 0)
                fail_msg("%s: %s", d.sql[i], detail);
            indexed |= strstr(detail, " INDEX ") != NULL;
        }
        sqlite3_finalize(st);
        if (!indexed)
            fail_msg("no index: %s", d.sql[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_batch_counts_each_report_once_and_merges_rollups, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(discarded_batch_leaves_nothing_behind, setup, teardown),
        cmocka_unit_test_setup_teardown(
            retention_deletes_old_rows_in_bounded_steps_and_keeps_recent_ones, setup, teardown),
        cmocka_unit_test_setup_teardown(rows_stored_as_text_are_read_merged_and_repacked, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(deleting_old_rows_does_not_scan_a_table, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
