/*
 * version: libtailor's version and result-code descriptions (tailor.h).
 */
#include "tailor.h"

const char *tailor_version(void)
{
    return TAILOR_VERSION_STRING;
}

int tailor_version_number(void)
{
    return TAILOR_VERSION_NUMBER;
}

const char *tailor_strerror(int code)
{
    switch (code) {
    case TAILOR_OK: return "success";
    case TAILOR_EINVAL: return "invalid argument";
    case TAILOR_ENOMEM: return "out of memory";
    case TAILOR_EIO: return "local file error";
    case TAILOR_ENET: return "cannot reach the server";
    case TAILOR_EHTTP: return "the server answered with an error";
    case TAILOR_ESIG: return "signature not verified by any pinned key";
    case TAILOR_EHASH: return "content does not match its hash";
    case TAILOR_EROLLBACK: return "older than a version already seen (rollback refused)";
    case TAILOR_EEXPIRED: return "manifest has expired";
    case TAILOR_ENOSPC: return "not enough free space";
    case TAILOR_ECANCELED: return "cancelled";
    case TAILOR_ENOTFOUND: return "not found";
    case TAILOR_EFORMAT: return "malformed data";
    case TAILOR_EAUTH: return "credentials refused";
    default: return "unknown error";
    }
}
