#include "dmarc-orgdomain.h"

#include <libpsl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "lib/xalloc.h"

struct dmarc_orgdomain {
    psl_ctx_t *psl;
};

struct dmarc_orgdomain *dmarc_orgdomain_new(const char *psl_file, const char **error_r)
{
    psl_ctx_t *psl = psl_file ? psl_load_file(psl_file) : psl_latest(NULL);
    if (!psl) {
        *error_r = psl_file ? "cannot load the public suffix list file"
                            : "no public suffix list (libpsl has none built in)";
        return NULL;
    }
    struct dmarc_orgdomain *od = xcalloc(1, sizeof(*od));
    od->psl = psl;
    return od;
}

void dmarc_orgdomain_free(struct dmarc_orgdomain **od)
{
    if (!*od)
        return;
    psl_free((*od)->psl); /* a no-op for libpsl's built-in list */
    x_free(od);
}

int dmarc_domain_normalize(const char *in, size_t len, char *out, const char **error_r)
{
    if (len > 0 && in[len - 1] == '.')
        len--;
    if (len == 0) {
        *error_r = "empty domain";
        return -1;
    }
    if (len > DMARC_DOMAIN_MAX) {
        *error_r = "domain too long";
        return -1;
    }
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        char c = str_lower_char(in[i]);
        if (c == '.') {
            if (label == 0) {
                *error_r = "empty label in domain";
                return -1;
            }
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
            if (++label > 63) {
                *error_r = "domain label longer than 63";
                return -1;
            }
        } else {
            *error_r =
                (unsigned char)c >= 0x80 ? "non-ASCII domain (U-label)" : "bad character in domain";
            return -1;
        }
        out[i] = c;
    }
    if (label == 0) {
        *error_r = "empty label in domain";
        return -1;
    }
    out[len] = '\0';
    return 0;
}

int dmarc_orgdomain_get(const struct dmarc_orgdomain *od, const char *domain, char *out,
                        const char **error_r)
{
    char norm[DMARC_DOMAIN_SIZE];
    if (dmarc_domain_normalize(domain, strlen(domain), norm, error_r) < 0)
        return -1;
    const char *reg = psl_registrable_domain(od->psl, norm);
    /* NULL: the name is itself a public suffix; it is its own. */
    if (str_copy(out, DMARC_DOMAIN_SIZE, reg ? reg : norm) < 0) {
        *error_r = "domain too long";
        return -1;
    }
    return 0;
}
