/*
 * probe: what this device can do, read from the operating system for
 * telemetry reports (schema/telemetry.schema.json, "device"): RAM, cores,
 * CPU model and ISA flags, OS and version, arch, free storage of the cache
 * directory, battery and thermal state where the system exposes them.
 *
 * Also the install id: 128 random bits made once per cache directory and
 * kept in CACHE/install-id; never derived from hardware.
 */
#ifndef TAILOR_PROBE_H
#define TAILOR_PROBE_H

#include <stdint.h>

#define TAILOR__PROBE_MAX_FLAGS 128

struct tailor__probe {
    int64_t ram_mb;
    int cores;
    char cpu_model[129];
    char cpu_flags[TAILOR__PROBE_MAX_FLAGS][33];
    int nflags;
    char os[33];         /* "linux" */
    char os_version[65]; /* the kernel release */
    char arch[33];       /* "x86_64", "arm64", ... */
    int64_t free_storage_mb;
    int has_battery;
    double battery_level; /* 0..1 */
    int charging;
    const char *thermal_state; /* "nominal".."critical", or NULL when unknown */
};

/* Fills `p` for a cache at `dir`. Fields it cannot read get safe
 * defaults (1 core, "unknown" model, no flags). Never fails. */
void tailor__probe_device(const char *dir, struct tailor__probe *p /* OUT */);

/* Reads DIR/install-id, creating it (atomically: a temporary file linked
 * into place, so concurrent openers agree) with 32 random lowercase hex
 * digits if missing or malformed. `out` gets 33 bytes. Returns 0 or -1
 * with errno set. */
int tailor__probe_install_id(const char *dir, char out[33]);

#endif
