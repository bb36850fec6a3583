/* clamd-reply: the parser of clamd's reply to one INSTREAM scan.
 *
 * clamd answers a scan with one line (clamd(8), "INSTREAM"):
 *
 *   stream: OK                              nothing found
 *   stream: Eicar-Test-Signature FOUND      a signature matched
 *   stream: Some reason ERROR               clamd could not scan
 *   INSTREAM size limit exceeded. ERROR     the stream crossed StreamMaxLength
 *
 * ended by a NUL (the "z" command forms) or a newline (the "n" forms).
 * The parser is pure: it touches no socket, so it is unit-tested and
 * fuzzed alone; the client (clamd.h) hands it what it read. */
#ifndef POSTINO_POLICY_CLAMD_REPLY_H
#define POSTINO_POLICY_CLAMD_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#define CLAMD_REPLY_MAX     1024 /* bytes of a reply, terminator included */
#define CLAMD_SIGNATURE_MAX 128  /* bytes of a signature name as kept (printable) */
#define CLAMD_TEXT_MAX      256  /* bytes of an ERROR text as kept (printable) */

enum clamd_reply_verdict {
    CLAMD_REPLY_CLEAN,    /* "stream: OK" */
    CLAMD_REPLY_INFECTED, /* "stream: NAME FOUND" */
    CLAMD_REPLY_ERROR,    /* "... ERROR": clamd did not scan */
};

/* One parsed reply, written into the caller's struct (no allocation). */
struct clamd_reply {
    enum clamd_reply_verdict verdict;
    /* INFECTED: the signature name, made printable (str_printable) and cut
     * at CLAMD_SIGNATURE_MAX; "" otherwise. */
    char signature[CLAMD_SIGNATURE_MAX + 1];
    /* ERROR: clamd's text without "stream: " and " ERROR" ("INSTREAM size
     * limit exceeded."); on a malformed reply: the reply itself. Printable,
     * cut at CLAMD_TEXT_MAX; "" otherwise. */
    char text[CLAMD_TEXT_MAX + 1];
};

/* Parse the reply r[0..len) (need not be terminated): the line, optionally
 * followed by exactly one terminator, NUL or newline, and nothing after it.
 * Returns 0 with the verdict in *out, or -1 if it is no clamd reply to
 * INSTREAM (empty, longer than CLAMD_REPLY_MAX, a NUL or newline inside,
 * an unknown form, "FOUND" without a name): out->verdict is then
 * CLAMD_REPLY_ERROR and out->text a printable copy of the reply, and the
 * caller treats clamd as not working (a protocol error). */
int clamd_reply_parse(const char *r, size_t len, struct clamd_reply *out);

/* True if a parsed ERROR reply says the stream crossed clamd's
 * StreamMaxLength ("INSTREAM size limit exceeded."). */
bool clamd_reply_is_size_limit(const struct clamd_reply *reply);

#endif
