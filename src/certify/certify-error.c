/* certify-error: the error messages of the certify modules. */
#include "certify/certify-error.h"

#include <openssl/err.h>
#include <stdarg.h>

#include "lib/buf.h"

int certify_fail(char **error_r, const char *fmt, ...)
{
    struct buf b;
    buf_init(&b, BUF_UNLIMITED);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    unsigned long e = ERR_peek_last_error();
    if (e) {
        char msg[256];
        ERR_error_string_n(e, msg, sizeof(msg));
        buf_printf(&b, " (%s)", msg);
    }
    ERR_clear_error();
    *error_r = buf_steal(&b);
    return -1;
}
