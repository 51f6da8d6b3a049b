/* Unit tests of server/objcheck.c: a file is hashed once per version, a
 * damaged one is refused, and the table grows and then starts over at its
 * bound. The module is compiled in here with a bound of 600 files (its
 * table grows at 512), so both happen with a few hundred small files. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define OBJCHECK_MAX_FILES 600u
#include "../../server/objcheck.c"

#include "blake2b.h"
#include "objcheck.h"
#include "store.h"
#include "tmpdir.h"

#define SIZE (3u << 20) /* more than one read chunk */

static char path[] = "/tmp/tailor-test-objcheck.XXXXXX";
static unsigned char *bytes;

static void id_of(const unsigned char *buf, size_t len, char id[STORE_ID_LEN + 1])
{
    unsigned char d[STORE_ID_LEN / 2];
    tailor__blake2b_hash(d, sizeof d, buf, len);
    for (size_t i = 0; i < sizeof d; i++)
        snprintf(id + 2 * i, 3, "%02x", d[i]);
}

static void write_file(const unsigned char *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    close(fd);
}

/* objcheck_verify of open file `fd`, with its fstat as tailord passes it. */
static int verify_fd(const char *id, int fd)
{
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    return objcheck_verify(id, fd, &st);
}

static int verify(const char *id)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    int rc = verify_fd(id, fd);
    close(fd);
    return rc;
}

static int setup(void **state)
{
    (void)state;
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    bytes = malloc(SIZE);
    assert_non_null(bytes);
    for (size_t i = 0; i < SIZE; i++)
        bytes[i] = (unsigned char)(i * 2654435761u >> 13);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    free(bytes);
    return 0;
}

/* Waits until the file's times are old enough to be remembered. */
static void settle(void)
{
    sleep(OBJCHECK_SETTLED_S + 1);
}

static void a_good_file_is_hashed_once_per_version(void **state)
{
    (void)state;
    char id[STORE_ID_LEN + 1];
    id_of(bytes, SIZE, id);
    write_file(bytes, SIZE);
    settle();
    unsigned long before = objcheck_hashed();
    assert_int_equal(verify(id), 0);
    assert_int_equal(verify(id), 0);
    assert_int_equal(verify(id), 0);
    assert_int_equal(objcheck_hashed(), before + 1);
    /* Truncated: a new version, hashed again, refused, not remembered. */
    assert_int_equal(truncate(path, SIZE - 1), 0);
    assert_int_equal(verify(id), OBJCHECK_CORRUPT);
    assert_int_equal(verify(id), OBJCHECK_CORRUPT);
    assert_int_equal(objcheck_hashed(), before + 3);
    /* Repaired: good again, but hashed on each request until settled. */
    write_file(bytes, SIZE);
    assert_int_equal(verify(id), 0);
    assert_int_equal(verify(id), 0);
    assert_int_equal(objcheck_hashed(), before + 5);
    settle();
    assert_int_equal(verify(id), 0);
    assert_int_equal(verify(id), 0);
    assert_int_equal(objcheck_hashed(), before + 6);
}

static void a_byte_changed_in_place_is_refused(void **state)
{
    (void)state;
    char id[STORE_ID_LEN + 1];
    id_of(bytes, SIZE, id);
    write_file(bytes, SIZE);
    settle();
    assert_int_equal(verify(id), 0); /* remembered */
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    unsigned char flipped = bytes[SIZE / 2] ^ 1;
    assert_int_equal(pwrite(fd, &flipped, 1, SIZE / 2), 1);
    close(fd);
    assert_int_equal(verify(id), OBJCHECK_CORRUPT);
}

static void another_id_is_refused(void **state)
{
    (void)state;
    char id[STORE_ID_LEN + 1];
    id_of(bytes, SIZE - 7, id); /* the id of other bytes */
    write_file(bytes, SIZE);
    assert_int_equal(verify(id), OBJCHECK_CORRUPT);
    id_of(bytes, 0, id); /* an empty file is the empty string's object */
    write_file(bytes, 0);
    assert_int_equal(verify(id), 0);
}

/* 601 files, each remembered once it is verified; the 601st empties the
 * table (on the way it grew past 512 entries), so the first 600 are
 * hashed again and the last is still remembered. */
static void the_table_grows_and_starts_over_at_its_bound(void **state)
{
    (void)state;
    enum { FILES = OBJCHECK_MAX_FILES + 1 };
    static char ids[FILES][STORE_ID_LEN + 1];
    static int fds[FILES];
    char dir[48];
    assert_non_null(test_tmpdir(dir, sizeof dir, "objcheck-many"));
    for (int i = 0; i < FILES; i++) {
        char p[64];
        unsigned char content[sizeof i];
        memcpy(content, &i, sizeof i);
        id_of(content, sizeof content, ids[i]);
        snprintf(p, sizeof p, "%s/%d", dir, i);
        int fd = open(p, O_RDWR | O_CREAT | O_EXCL, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, content, sizeof content), (ssize_t)sizeof content);
        fds[i] = fd;
        unlink(p); /* the descriptor keeps it */
    }
    rmdir(dir);
    settle();
    if (table) /* start empty: the tests before left entries */
        memset(table, 0, cap * sizeof *table);
    used = 0;
    unsigned long before = objcheck_hashed();
    for (int i = 0; i < FILES - 1; i++)
        assert_int_equal(verify_fd(ids[i], fds[i]), 0);
    assert_true(cap > 512); /* it grew */
    for (int i = 0; i < FILES - 1; i++) /* all remembered */
        assert_int_equal(verify_fd(ids[i], fds[i]), 0);
    assert_int_equal(objcheck_hashed(), before + FILES - 1);
    assert_int_equal(verify_fd(ids[FILES - 1], fds[FILES - 1]), 0); /* starts over */
    assert_int_equal(objcheck_hashed(), before + FILES);
    assert_int_equal(verify_fd(ids[FILES - 1], fds[FILES - 1]), 0);
    assert_int_equal(verify_fd(ids[0], fds[0]), 0); /* forgotten: hashed again */
    assert_int_equal(objcheck_hashed(), before + FILES + 1);
    for (int i = 0; i < FILES; i++)
        close(fds[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_good_file_is_hashed_once_per_version),
        cmocka_unit_test(a_byte_changed_in_place_is_refused),
        cmocka_unit_test(another_id_is_refused),
        cmocka_unit_test(the_table_grows_and_starts_over_at_its_bound),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
