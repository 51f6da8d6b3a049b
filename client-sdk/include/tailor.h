/*
 * tailor.h: the whole public API of libtailor, the tailor client SDK.
 *
 * libtailor installs verified model variants from a tailor origin and
 * reports how fast they run on this device. Conventions:
 *  - every function that can fail returns an int: TAILOR_OK (0) or a
 *    negative TAILOR_E* code; tailor_strerror() names the code and, where
 *    a handle exists, tailor_errmsg() says what exactly went wrong;
 *  - error codes are never renumbered; new ones are appended;
 *  - strings passed in are copied; every _free/_close accepts NULL.
 */
#ifndef TAILOR_H
#define TAILOR_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(TAILOR_BUILDING)
#define TAILOR_API __attribute__((visibility("default")))
#else
#define TAILOR_API
#endif

#define TAILOR_VERSION_MAJOR 0
#define TAILOR_VERSION_MINOR 1
#define TAILOR_VERSION_PATCH 0
/* Comparable: (major * 10000 + minor * 100 + patch). */
#define TAILOR_VERSION_NUMBER \
    (TAILOR_VERSION_MAJOR * 10000 + TAILOR_VERSION_MINOR * 100 + TAILOR_VERSION_PATCH)

/* Result codes. */
#define TAILOR_OK 0
#define TAILOR_EINVAL -1     /* an argument is invalid */
#define TAILOR_ENOMEM -2     /* out of memory */
#define TAILOR_EIO -3        /* a local file operation failed */
#define TAILOR_ENET -4       /* the server could not be reached */
#define TAILOR_EHTTP -5      /* the server answered with an error status */
#define TAILOR_ESIG -6       /* no pinned key verifies the signature */
#define TAILOR_EHASH -7      /* downloaded bytes do not match their hash */
#define TAILOR_EROLLBACK -8  /* older than a version already seen */
#define TAILOR_EEXPIRED -9   /* the manifest has expired */
#define TAILOR_ENOSPC -10    /* not enough free space */
#define TAILOR_ECANCELED -11 /* the progress callback cancelled */
#define TAILOR_ENOTFOUND -12 /* no such model, variant or version */
#define TAILOR_EFORMAT -13   /* malformed data from the server or cache */
#define TAILOR_EAUTH -14     /* the server refused our credentials */

/*! tailor_version() :
 * @return the library's version string, e.g. "0.1.0" (static storage). */
TAILOR_API const char *tailor_version(void);

/*! tailor_version_number() :
 * @return TAILOR_VERSION_NUMBER of the library actually linked. */
TAILOR_API int tailor_version_number(void);

/*! tailor_strerror() :
 * @return a short, static description of a TAILOR_* result code. */
TAILOR_API const char *tailor_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif /* TAILOR_H */
