/* mime-param: the parameters of a Content-Type or Content-Disposition
 * value (RFC 2045 5.1), with RFC 2231 continuations merged the way
 * Dovecot reports them in BODYSTRUCTURE:
 *
 *   name*0="a"; name*1="b"          -> name     "ab"
 *   name*0*=utf-8''a%20; name*1=b   -> name*    "utf-8''a%20b"
 *   name*=utf-8'en'x                -> name*    "utf-8'en'x" (not decoded)
 *
 * Plain parameters come first in their order, then the merged ones sorted
 * by name. A set with a missing index is left unmerged ("name*1").
 * A broken parameter is skipped and parsing goes on. At most
 * MIME_PARAM_MAX parameters are kept. */
#ifndef POSTINO_MIME_PARAM_H
#define POSTINO_MIME_PARAM_H

#include <stddef.h>

#include "mime-rfc822.h"

#define MIME_PARAM_MAX       64
#define MIME_PARAM_VALUE_MAX (64 * 1024)

struct mime_param {
    char *name;  /* owned, NUL-terminated */
    char *value; /* owned, NUL-terminated */
};

struct mime_params {
    struct mime_param *v; /* owned array */
    size_t n;
};

/* Parse parameters from the lexer's position (just before the first ';')
 * to the end of its input into *out (which must be empty). Returns 0, or
 * -1 if something was broken (what could be read is still in *out). */
int mime_params_parse(struct mime_lexer *lx, struct mime_params *out);
/* Free the names, values and array; *p becomes empty. */
void mime_params_free(struct mime_params *p);
/* The value of the first parameter named name (ASCII case-insensitive), or NULL. */
const char *mime_params_get(const struct mime_params *p, const char *name);

#endif
