/* clamd-reply: the parser of clamd's reply to INSTREAM (see clamd-reply.h). */
#include "policy/clamd-reply.h"

#include <stdbool.h>
#include <string.h>

#include "lib/str.h"

#define STREAM_PREFIX "stream: "
#define OK_WORD       "OK"
#define FOUND_SUFFIX  " FOUND"
#define ERROR_SUFFIX  " ERROR"
#define SIZE_LIMIT    "INSTREAM size limit exceeded"

/* True if s[0..n) ends with the terminated string suffix. */
static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* True if s[0..n) starts with the terminated string prefix. */
static bool starts_with(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(s, prefix, k) == 0;
}

/* Mark the reply malformed, keeping a printable copy for the log. */
static int malformed(const char *r, size_t len, struct clamd_reply *out)
{
    out->verdict = CLAMD_REPLY_ERROR;
    out->signature[0] = '\0';
    str_printable(out->text, sizeof(out->text), r, len);
    return -1;
}

int clamd_reply_parse(const char *r, size_t len, struct clamd_reply *out)
{
    out->verdict = CLAMD_REPLY_ERROR;
    out->signature[0] = '\0';
    out->text[0] = '\0';
    if (len > CLAMD_REPLY_MAX)
        return malformed(r, len, out);
    size_t n = len;
    if (n > 0 && (r[n - 1] == '\0' || r[n - 1] == '\n'))
        n--;
    if (n == 0 || memchr(r, '\0', n) != NULL || memchr(r, '\n', n) != NULL)
        return malformed(r, len, out);

    bool stream = starts_with(r, n, STREAM_PREFIX);
    const char *rest = stream ? r + strlen(STREAM_PREFIX) : r;
    size_t rn = stream ? n - strlen(STREAM_PREFIX) : n;
    if (ends_with(rest, rn, ERROR_SUFFIX)) {
        size_t tn = rn - strlen(ERROR_SUFFIX);
        if (tn == 0 || rest[0] == ' ')
            return malformed(r, len, out);
        out->verdict = CLAMD_REPLY_ERROR;
        str_printable(out->text, sizeof(out->text), rest, tn);
        return 0;
    }
    if (!stream)
        return malformed(r, len, out);
    if (rn == strlen(OK_WORD) && memcmp(rest, OK_WORD, rn) == 0) {
        out->verdict = CLAMD_REPLY_CLEAN;
        return 0;
    }
    if (ends_with(rest, rn, FOUND_SUFFIX)) {
        size_t nn = rn - strlen(FOUND_SUFFIX);
        if (nn == 0 || rest[0] == ' ')
            return malformed(r, len, out);
        out->verdict = CLAMD_REPLY_INFECTED;
        str_printable(out->signature, sizeof(out->signature), rest, nn);
        return 0;
    }
    return malformed(r, len, out);
}

bool clamd_reply_is_size_limit(const struct clamd_reply *reply)
{
    return reply->verdict == CLAMD_REPLY_ERROR &&
           strncmp(reply->text, SIZE_LIMIT, strlen(SIZE_LIMIT)) == 0;
}
