/*
 * probe: the device capability and install id of telemetry reports (see
 * probe.h). Linux sources: sysinfo, sysconf, /proc/cpuinfo, uname, statvfs,
 * /sys/class/power_supply and /sys/class/thermal.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <sodium.h>

#include "probe.h"

/* Copies `s` into dst (cap bytes) without control characters and with
 * surrounding blanks trimmed. */
static void copy_text(char *dst, size_t cap, const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = 0;
    for (; *s && n + 1 < cap; s++)
        if ((unsigned char)*s >= 0x20 && *s != 0x7f)
            dst[n++] = *s;
    while (n > 0 && dst[n - 1] == ' ')
        n--;
    dst[n] = '\0';
}

/* 1 if `s` is a token ([a-z0-9._-]{1,32}). */
static int is_token(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 32)
        return 0;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '.' ||
              *s == '_' || *s == '-'))
            return 0;
    return 1;
}

/* The ISA flags worth reporting (the full list is long and mostly noise). */
static const char *const interesting[] = {
    "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
    "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16",
    "asimd", "asimddp", "asimdhp", "fphp", "sve", "sve2", "i8mm", "bf16", "sme", NULL};

static void add_flags(struct tailor__probe *p, char *list)
{
    for (char *save = NULL, *f = strtok_r(list, " \t\n", &save); f;
         f = strtok_r(NULL, " \t\n", &save)) {
        int want = 0;
        for (int i = 0; interesting[i]; i++)
            if (strcmp(f, interesting[i]) == 0)
                want = 1;
        if (!want || !is_token(f) || p->nflags >= TAILOR__PROBE_MAX_FLAGS)
            continue;
        int dup = 0;
        for (int i = 0; i < p->nflags; i++)
            if (strcmp(p->cpu_flags[i], f) == 0)
                dup = 1;
        if (!dup)
            snprintf(p->cpu_flags[p->nflags++], sizeof p->cpu_flags[0], "%s", f);
    }
}

static void probe_cpuinfo(struct tailor__probe *p)
{
    FILE *f = fopen("/proc/cpuinfo", "re");
    if (!f)
        return;
    char line[8192];
    int flags_done = 0;
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        char *val = colon + 1;
        val[strcspn(val, "\n")] = '\0';
        size_t kn = strlen(line);
        while (kn > 0 && (line[kn - 1] == ' ' || line[kn - 1] == '\t'))
            line[--kn] = '\0';
        if (!p->cpu_model[0] && (strcmp(line, "model name") == 0 ||
                                 strcmp(line, "Hardware") == 0 || strcmp(line, "cpu model") == 0))
            copy_text(p->cpu_model, sizeof p->cpu_model, val);
        else if (!flags_done && (strcmp(line, "flags") == 0 || strcmp(line, "Features") == 0)) {
            add_flags(p, val);
            flags_done = 1;
        }
    }
    fclose(f);
}

/* Reads a small sysfs file into buf; 0 or -1. */
static int read_small(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return n > 0 ? 0 : -1;
}

static void probe_battery(struct tailor__probe *p)
{
    DIR *d = opendir("/sys/class/power_supply");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "BAT", 3) != 0)
            continue;
        char path[512], buf[64];
        snprintf(path, sizeof path, "/sys/class/power_supply/%s/capacity", e->d_name);
        if (read_small(path, buf, sizeof buf) != 0)
            continue;
        long cap = strtol(buf, NULL, 10);
        if (cap < 0 || cap > 100)
            continue;
        p->has_battery = 1;
        p->battery_level = (double)cap / 100.0;
        snprintf(path, sizeof path, "/sys/class/power_supply/%s/status", e->d_name);
        p->charging = read_small(path, buf, sizeof buf) == 0 &&
                      (strcmp(buf, "Charging") == 0 || strcmp(buf, "Full") == 0);
        break;
    }
    closedir(d);
}

/* The hottest thermal zone against coarse thresholds (millidegrees C). */
static void probe_thermal(struct tailor__probe *p)
{
    DIR *d = opendir("/sys/class/thermal");
    if (!d)
        return;
    long hottest = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "thermal_zone", 12) != 0)
            continue;
        char path[512], buf[64];
        snprintf(path, sizeof path, "/sys/class/thermal/%s/temp", e->d_name);
        if (read_small(path, buf, sizeof buf) != 0)
            continue;
        long mc = strtol(buf, NULL, 10);
        if (mc > hottest && mc < 200000)
            hottest = mc;
    }
    closedir(d);
    if (hottest < 0)
        return;
    p->thermal_state = hottest >= 95000 ? "critical" :
                       hottest >= 85000 ? "serious" :
                       hottest >= 70000 ? "fair" : "nominal";
}

void tailor__probe_device(const char *dir, struct tailor__probe *p)
{
    memset(p, 0, sizeof *p);
    struct sysinfo si;
    if (sysinfo(&si) == 0)
        p->ram_mb = (int64_t)((unsigned long long)si.totalram * si.mem_unit / (1024 * 1024));
    if (p->ram_mb < 1)
        p->ram_mb = 1;
    long nc = sysconf(_SC_NPROCESSORS_ONLN);
    p->cores = nc < 1 ? 1 : nc > 4096 ? 4096 : (int)nc;
    probe_cpuinfo(p);
    if (!p->cpu_model[0])
        snprintf(p->cpu_model, sizeof p->cpu_model, "unknown");
    snprintf(p->os, sizeof p->os, "linux");
    struct utsname u;
    if (uname(&u) == 0) {
        copy_text(p->os_version, sizeof p->os_version, u.release);
        const char *m = strcmp(u.machine, "aarch64") == 0 ? "arm64" : u.machine;
        char arch[sizeof p->arch];
        copy_text(arch, sizeof arch, m);
        for (char *c = arch; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        if (is_token(arch))
            snprintf(p->arch, sizeof p->arch, "%s", arch);
    }
    if (!p->os_version[0])
        snprintf(p->os_version, sizeof p->os_version, "unknown");
    if (!p->arch[0])
        snprintf(p->arch, sizeof p->arch, "unknown");
    struct statvfs sv;
    if (dir && statvfs(dir, &sv) == 0)
        p->free_storage_mb =
            (int64_t)((unsigned long long)sv.f_bavail * sv.f_frsize / (1024 * 1024));
    probe_battery(p);
    probe_thermal(p);
}

static int valid_id(const char *s)
{
    if (strlen(s) != 32)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s) && !(*s >= 'a' && *s <= 'f'))
            return 0;
    return 1;
}

static int read_id(const char *path, char out[33])
{
    char buf[64];
    if (read_small(path, buf, sizeof buf) != 0 || !valid_id(buf))
        return -1;
    memcpy(out, buf, 33);
    return 0;
}

int tailor__probe_install_id(const char *dir, char out[33])
{
    char path[4096], tmp[4160];
    if ((size_t)snprintf(path, sizeof path, "%s/install-id", dir) >= sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (read_id(path, out) == 0)
        return 0;
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    char id[33];
    sodium_bin2hex(id, sizeof id, raw, sizeof raw);
    char rnd[17];
    randombytes_buf(raw, 8);
    sodium_bin2hex(rnd, sizeof rnd, raw, 8);
    snprintf(tmp, sizeof tmp, "%s/.install-id.%s.tmp", dir, rnd);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    char line[34];
    memcpy(line, id, 32);
    line[32] = '\n';
    int ok = write(fd, line, 33) == 33 && fsync(fd) == 0;
    int e = errno;
    close(fd);
    if (!ok) {
        unlink(tmp);
        errno = e;
        return -1;
    }
    /* link() fails with EEXIST if another opener won: then use theirs. A
     * malformed file is replaced. */
    if (link(tmp, path) != 0) {
        if (errno == EEXIST && read_id(path, out) == 0) {
            unlink(tmp);
            return 0;
        }
        if (rename(tmp, path) != 0) {
            e = errno;
            unlink(tmp);
            errno = e;
            return -1;
        }
    } else {
        unlink(tmp);
    }
    return read_id(path, out) == 0 ? 0 : (errno = EIO, -1);
}
