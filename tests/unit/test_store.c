/* Unit tests of server/store.c: object IDs, paths, atomic skip-existing
 * writes, batches of writes made durable together, and opening objects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "tmpdir.h"

/* BLAKE2b-256 test vectors, as `b2sum -l 256` prints them. */
#define ID_EMPTY "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"
#define ID_ABC "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319"

static int make_dir(void **state)
{
    *state = test_tmpdir_new("store");
    assert_non_null(*state);
    return 0;
}

static int remove_dir(void **state)
{
    assert_int_equal(test_tmpdir_free(*state), 0);
    return 0;
}

/* Reads the whole file `path` into a malloc'd buffer; sets *len. */
static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Names in directory `path` other than . and .., joined by spaces. */
static void list_dir(const char *path, char *out, size_t cap)
{
    DIR *d = opendir(path);
    assert_non_null(d);
    out[0] = '\0';
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s%s", n ? " " : "", e->d_name);
    }
    closedir(d);
}

static void store_id_valid_accepts_64_lowercase_hex_digits(void **state)
{
    (void)state;
    assert_true(store_id_valid(ID_EMPTY));
    assert_true(store_id_valid(ID_ABC));
    assert_true(store_id_valid("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
}

static void store_id_valid_rejects_anything_else(void **state)
{
    static const char *const bad[] = {
        "",
        "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a",   /* 63 */
        "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a80", /* 65 */
        "0E5751C026E543B2E8AB2EB06099DAA1D1E5DF47778F7787FAAB45CDF12FE3A8",  /* upper */
        "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3aG",
        "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a ",
        "../../../../../../../../../../../../../../../../../etc/passwd/x",
        "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8/",
    };
    (void)state;
    assert_false(store_id_valid(NULL));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (store_id_valid(bad[i]))
            fail_msg("'%s' was accepted", bad[i]);
}

static void store_object_path_is_data_objects_xx_id(void **state)
{
    char path[256];
    (void)state;
    assert_int_equal(store_object_path("/srv/data", ID_ABC, path, sizeof path), 0);
    assert_string_equal(path, "/srv/data/objects/bd/" ID_ABC);
}

static void store_object_path_refuses_invalid_ids_and_short_buffers(void **state)
{
    char path[256];
    (void)state;
    assert_int_equal(store_object_path("/srv/data", "abc", path, sizeof path), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(store_object_path("/srv/data", ID_ABC, path, 40), -1);
    assert_int_equal(errno, ENAMETOOLONG);
}

static void store_put_names_the_object_by_its_blake2b_256(void **state)
{
    char id[STORE_ID_LEN + 1], err[256];
    int existed = -1;
    assert_int_equal(store_put(*state, "abc", 3, id, &existed, err, sizeof err), 0);
    assert_string_equal(id, ID_ABC);
    assert_int_equal(existed, 0);
    assert_int_equal(store_put(*state, "", 0, id, &existed, err, sizeof err), 0);
    assert_string_equal(id, ID_EMPTY);
    assert_int_equal(existed, 0);
}

static void store_put_writes_the_bytes_at_the_object_path(void **state)
{
    char id[STORE_ID_LEN + 1], err[256], path[512];
    int existed;
    size_t n = 300000, got;
    unsigned char *buf = malloc(n);
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(i * 7 + i / 251);
    assert_int_equal(store_put(*state, buf, n, id, &existed, err, sizeof err), 0);
    assert_int_equal(store_object_path(*state, id, path, sizeof path), 0);
    unsigned char *back = read_file(path, &got);
    assert_int_equal(got, n);
    assert_memory_equal(back, buf, n);
    free(back);
    free(buf);
}

static void store_put_creates_directories_0750_and_read_only_objects(void **state)
{
    char id[STORE_ID_LEN + 1], err[256], path[512];
    int existed;
    struct stat st;
    mode_t old = umask(022);
    assert_int_equal(store_put(*state, "abc", 3, id, &existed, err, sizeof err), 0);
    umask(old);
    snprintf(path, sizeof path, "%s/objects", (char *)*state);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0750);
    snprintf(path, sizeof path, "%s/objects/bd", (char *)*state);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0750);
    assert_int_equal(store_object_path(*state, id, path, sizeof path), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0440);
}

static void store_put_of_an_existing_object_is_skipped_and_reported(void **state)
{
    char id[STORE_ID_LEN + 1], err[256], path[512];
    int existed = -1;
    struct stat before, after;
    assert_int_equal(store_put(*state, "abc", 3, id, &existed, err, sizeof err), 0);
    assert_int_equal(existed, 0);
    assert_int_equal(store_object_path(*state, id, path, sizeof path), 0);
    assert_int_equal(stat(path, &before), 0);
    assert_int_equal(store_put(*state, "abc", 3, id, &existed, err, sizeof err), 0);
    assert_int_equal(existed, 1);
    assert_string_equal(id, ID_ABC);
    assert_int_equal(stat(path, &after), 0);
    assert_int_equal(before.st_ino, after.st_ino);
}

static void store_put_leaves_no_temp_file_behind(void **state)
{
    char id[STORE_ID_LEN + 1], err[256], dir[512], names[1024];
    int existed;
    assert_int_equal(store_put(*state, "abc", 3, id, &existed, err, sizeof err), 0);
    assert_int_equal(store_put(*state, "abc", 3, id, &existed, err, sizeof err), 0);
    snprintf(dir, sizeof dir, "%s/objects/bd", (char *)*state);
    list_dir(dir, names, sizeof names);
    assert_string_equal(names, ID_ABC);
}

static void store_put_replaces_a_damaged_object(void **state)
{
    char id[STORE_ID_LEN + 1], err[256], path[512];
    int existed = -1;
    size_t got;
    assert_int_equal(store_put(*state, "abc", 3, id, &existed, err, sizeof err), 0);
    assert_int_equal(store_object_path(*state, id, path, sizeof path), 0);
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(truncate(path, 1), 0);
    assert_int_equal(store_put(*state, "abc", 3, id, &existed, err, sizeof err), 0);
    assert_int_equal(existed, 0);
    unsigned char *back = read_file(path, &got);
    assert_int_equal(got, 3);
    assert_memory_equal(back, "abc", 3);
    free(back);
}

static void store_put_fails_with_a_message_when_the_data_directory_is_missing(void **state)
{
    char id[STORE_ID_LEN + 1], err[256] = "", dir[512];
    int existed;
    snprintf(dir, sizeof dir, "%s/missing", (char *)*state);
    assert_int_equal(store_put(dir, "abc", 3, id, &existed, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot create"));
    assert_non_null(strstr(err, "objects"));
}

struct racer {
    const char *dir;
    const unsigned char *buf;
    size_t len;
    int rc;
    int existed;
    char id[STORE_ID_LEN + 1];
    atomic_int *go;
};

static void *race_put(void *arg)
{
    struct racer *r = arg;
    char err[256];
    while (!atomic_load(r->go))
        ;
    r->rc = store_put(r->dir, r->buf, r->len, r->id, &r->existed, err, sizeof err);
    return NULL;
}

static void store_put_by_concurrent_writers_of_one_object_stores_it_once(void **state)
{
    enum { N = 8 };
    pthread_t t[N];
    struct racer r[N];
    atomic_int go = 0;
    size_t n = 1 << 20;
    unsigned char *buf = malloc(n);
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(i ^ (i >> 9));
    for (int i = 0; i < N; i++) {
        r[i] = (struct racer){.dir = *state, .buf = buf, .len = n, .go = &go};
        assert_int_equal(pthread_create(&t[i], NULL, race_put, &r[i]), 0);
    }
    atomic_store(&go, 1);
    int fresh = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].rc, 0);
        assert_string_equal(r[i].id, r[0].id);
        fresh += !r[i].existed;
    }
    assert_int_equal(fresh, 1);
    char dir[512], names[1024];
    snprintf(dir, sizeof dir, "%s/objects/%.2s", (char *)*state, r[0].id);
    list_dir(dir, names, sizeof names);
    assert_string_equal(names, r[0].id);
    free(buf);
}

struct reader {
    const char *dir;
    const char *id;
    uint64_t want;
    atomic_int *stop;
    atomic_int opened;
    int partial;
};

static void *watch_open(void *arg)
{
    struct reader *r = arg;
    while (!atomic_load(r->stop)) {
        int fd;
        struct stat st;
        if (store_open(r->dir, r->id, &fd, &st) == 0) {
            atomic_fetch_add(&r->opened, 1);
            r->partial += (uint64_t)st.st_size != r->want;
            close(fd);
        }
    }
    return NULL;
}

static void store_put_is_never_seen_half_written(void **state)
{
    size_t n = 8u << 20;
    unsigned char *buf = malloc(n);
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(i * 31);
    /* The ID is known up front from a first put into another directory. */
    char id[STORE_ID_LEN + 1], err[256], other[512];
    int existed;
    snprintf(other, sizeof other, "%s/other", (char *)*state);
    assert_int_equal(mkdir(other, 0700), 0);
    assert_int_equal(store_put(other, buf, n, id, &existed, err, sizeof err), 0);

    atomic_int stop = 0;
    struct reader rd = {.dir = *state, .id = id, .want = n, .stop = &stop};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, watch_open, &rd), 0);
    assert_int_equal(store_put(*state, buf, n, id, &existed, err, sizeof err), 0);
    /* Let the reader see the finished object at least once, however busy
     * the machine is (bounded at 5 s). */
    for (int i = 0; i < 500 && atomic_load(&rd.opened) == 0; i++)
        usleep(10 * 1000);
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    assert_true(atomic_load(&rd.opened) > 0);
    assert_int_equal(rd.partial, 0);
    free(buf);
}

/* Several objects: `n` buffers of different sizes and contents. */
static unsigned char *object_bytes(int i, size_t *len)
{
    *len = 1000 + (size_t)i * 4099;
    unsigned char *buf = malloc(*len);
    assert_non_null(buf);
    for (size_t k = 0; k < *len; k++)
        buf[k] = (unsigned char)(k * 13 + (size_t)i * 7 + k / 97);
    return buf;
}

/* 1 if DATA/objects holds a temp file anywhere. */
static int has_temp_files(const char *data_dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "find '%s/objects' -name '.*.tmp' | grep -q .", data_dir);
    return system(cmd) == 0;
}

static void store_batch_puts_are_all_in_place_and_clean_after_sync(void **state)
{
    enum { N = 40 };
    struct store_batch *b = store_batch_new(*state, 2);
    assert_non_null(b);
    char ids[N][STORE_ID_LEN + 1], err[256], path[512];
    for (int i = 0; i < N; i++) {
        size_t len;
        unsigned char *buf = object_bytes(i, &len);
        int existed = -1;
        assert_int_equal(store_batch_put(b, buf, len, ids[i], &existed, err, sizeof err), 0);
        assert_int_equal(existed, 0);
        free(buf);
    }
    assert_int_equal(store_batch_sync(b, err, sizeof err), 0);
    for (int i = 0; i < N; i++) {
        size_t len, got;
        unsigned char *buf = object_bytes(i, &len);
        assert_int_equal(store_object_path(*state, ids[i], path, sizeof path), 0);
        unsigned char *back = read_file(path, &got);
        assert_int_equal(got, len);
        assert_memory_equal(back, buf, len);
        free(back);
        free(buf);
    }
    assert_false(has_temp_files(*state));
    store_batch_free(b);
}

static void store_batch_names_objects_as_store_put_does(void **state)
{
    char id[STORE_ID_LEN + 1], err[256];
    struct store_batch *b = store_batch_new(*state, 1);
    assert_non_null(b);
    assert_int_equal(store_batch_put(b, "abc", 3, id, NULL, err, sizeof err), 0);
    assert_string_equal(id, ID_ABC);
    assert_int_equal(store_batch_put(b, "", 0, id, NULL, err, sizeof err), 0);
    assert_string_equal(id, ID_EMPTY);
    assert_int_equal(store_batch_sync(b, err, sizeof err), 0);
    store_batch_free(b);
}

static void store_batch_reports_objects_already_stored(void **state)
{
    char id[STORE_ID_LEN + 1], err[256];
    int existed = -1;
    assert_int_equal(store_put(*state, "abc", 3, id, &existed, err, sizeof err), 0);
    struct store_batch *b = store_batch_new(*state, 2);
    assert_non_null(b);
    assert_int_equal(store_batch_put(b, "abc", 3, id, &existed, err, sizeof err), 0);
    assert_int_equal(existed, 1);
    assert_int_equal(store_batch_sync(b, err, sizeof err), 0);
    store_batch_free(b);
}

static void store_batch_free_without_sync_still_finishes_queued_writes(void **state)
{
    enum { N = 24 };
    struct store_batch *b = store_batch_new(*state, 1);
    assert_non_null(b);
    char ids[N][STORE_ID_LEN + 1], err[256], path[512];
    for (int i = 0; i < N; i++) {
        size_t len;
        unsigned char *buf = object_bytes(i, &len);
        assert_int_equal(store_batch_put(b, buf, len, ids[i], NULL, err, sizeof err), 0);
        free(buf);
    }
    store_batch_free(b);
    struct stat st;
    for (int i = 0; i < N; i++) {
        assert_int_equal(store_object_path(*state, ids[i], path, sizeof path), 0);
        assert_int_equal(stat(path, &st), 0);
    }
    assert_false(has_temp_files(*state));
}

struct batch_writer {
    struct store_batch *b;
    int first; /* objects first .. first + 9 */
    int rc;
};

static void *batch_write(void *arg)
{
    struct batch_writer *w = arg;
    char id[STORE_ID_LEN + 1], err[256];
    for (int i = w->first; i < w->first + 10 && w->rc == 0; i++) {
        size_t len;
        unsigned char *buf = object_bytes(i, &len);
        w->rc = store_batch_put(w->b, buf, len, id, NULL, err, sizeof err);
        free(buf);
    }
    return NULL;
}

static void store_batch_takes_puts_from_several_threads_overlapping_objects(void **state)
{
    enum { T = 4 };
    struct store_batch *b = store_batch_new(*state, 2);
    assert_non_null(b);
    pthread_t t[T];
    struct batch_writer w[T];
    /* Writers 0 and 1 (and 2 and 3) put five objects in common. */
    for (int i = 0; i < T; i++) {
        w[i] = (struct batch_writer){.b = b, .first = i * 5};
        assert_int_equal(pthread_create(&t[i], NULL, batch_write, &w[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].rc, 0);
    }
    char err[256];
    assert_int_equal(store_batch_sync(b, err, sizeof err), 0);
    store_batch_free(b);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "test $(find '%s/objects' -type f | wc -l) -eq 25", (char *)*state);
    assert_int_equal(system(cmd), 0);
    assert_false(has_temp_files(*state));
}

static void store_batch_free_accepts_null(void **state)
{
    (void)state;
    store_batch_free(NULL);
}

static void store_open_returns_the_object_fd_and_size(void **state)
{
    char id[STORE_ID_LEN + 1], err[256];
    int existed, fd = -1;
    struct stat st;
    assert_int_equal(store_put(*state, "abc", 3, id, &existed, err, sizeof err), 0);
    assert_int_equal(store_open(*state, id, &fd, &st), 0);
    assert_int_equal(st.st_size, 3);
    char back[4] = "";
    assert_int_equal(read(fd, back, sizeof back), 3);
    assert_memory_equal(back, "abc", 3);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    close(fd);
}

static void store_open_of_a_missing_object_is_enoent(void **state)
{
    int fd;
    struct stat st;
    assert_int_equal(store_open(*state, ID_ABC, &fd, &st), -1);
    assert_int_equal(errno, ENOENT);
}

static void store_open_of_an_invalid_id_is_einval(void **state)
{
    int fd;
    struct stat st;
    assert_int_equal(store_open(*state, "../tailor.db", &fd, &st), -1);
    assert_int_equal(errno, EINVAL);
}

static void store_open_of_a_non_file_is_an_error_but_not_enoent(void **state)
{
    char path[512];
    int fd;
    struct stat st;
    assert_int_equal(store_object_path(*state, ID_ABC, path, sizeof path), 0);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/%s'", path, ID_ABC);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(store_open(*state, ID_ABC, &fd, &st), -1);
    assert_int_not_equal(errno, ENOENT);
}

#define T(f) cmocka_unit_test_setup_teardown(f, make_dir, remove_dir)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(store_id_valid_accepts_64_lowercase_hex_digits),
        cmocka_unit_test(store_id_valid_rejects_anything_else),
        cmocka_unit_test(store_object_path_is_data_objects_xx_id),
        cmocka_unit_test(store_object_path_refuses_invalid_ids_and_short_buffers),
        T(store_put_names_the_object_by_its_blake2b_256),
        T(store_put_writes_the_bytes_at_the_object_path),
        T(store_put_creates_directories_0750_and_read_only_objects),
        T(store_put_of_an_existing_object_is_skipped_and_reported),
        T(store_put_leaves_no_temp_file_behind),
        T(store_put_replaces_a_damaged_object),
        T(store_put_fails_with_a_message_when_the_data_directory_is_missing),
        T(store_put_by_concurrent_writers_of_one_object_stores_it_once),
        T(store_put_is_never_seen_half_written),
        T(store_batch_puts_are_all_in_place_and_clean_after_sync),
        T(store_batch_names_objects_as_store_put_does),
        T(store_batch_reports_objects_already_stored),
        T(store_batch_free_without_sync_still_finishes_queued_writes),
        T(store_batch_takes_puts_from_several_threads_overlapping_objects),
        cmocka_unit_test(store_batch_free_accepts_null),
        T(store_open_returns_the_object_fd_and_size),
        T(store_open_of_a_missing_object_is_enoent),
        T(store_open_of_an_invalid_id_is_einval),
        T(store_open_of_a_non_file_is_an_error_but_not_enoent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
