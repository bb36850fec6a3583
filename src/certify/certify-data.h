/* certify-data: the machine-readable data part of a certified-mail receipt
 * or envelope (daticert.xml, in the spirit of PEC's): what happened, to
 * which message, from whom to whom, when, and why not.
 *
 * The writer produces one fixed layout (UTF-8, LF line ends, the five XML
 * entities escaped). The parser reads network input for verification, so
 * it is strict and bounded: the same elements in the same order, only the
 * five named entities, no comments, processing instructions, DOCTYPE or
 * CDATA, every field and count under a named limit; anything else is
 * refused with a reason. Text fields never hold control characters. */
#ifndef POSTINO_CERTIFY_DATA_H
#define POSTINO_CERTIFY_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "lib/buf.h"

#define CERTIFY_DATA_MAX        (256 * 1024) /* octets of a whole data part */
#define CERTIFY_ADDR_MAX        320          /* octets of an address, plus NUL */
#define CERTIFY_TEXT_MAX        1000         /* subject, Message-ID, error text, plus NUL */
#define CERTIFY_ID_MAX          256          /* the unique identifier, plus NUL */
#define CERTIFY_MAX_RECIPIENTS  1000
#define CERTIFY_MAX_PART_HASHES 200
#define CERTIFY_HASH_HEX        64 /* SHA-256 in hex */
#define CERTIFY_PART_PATH_MAX   64 /* "1.2.3", plus NUL */
#define CERTIFY_PART_TYPE_MAX   128

/* What a certified message is. The names (certify_type_name) appear in the
 * data part and in the X-Certified-Type header. */
enum certify_type {
    CERTIFY_ACCEPTANCE,       /* the sender's service accepted the message */
    CERTIFY_NON_ACCEPTANCE,   /* it refused it (error says why) */
    CERTIFY_TRANSPORT,        /* the signed envelope around the original */
    CERTIFY_TAKING_IN_CHARGE, /* the receiving service took it (to the sending service) */
    CERTIFY_DELIVERY,         /* in the recipient's mailbox */
    CERTIFY_DELIVERY_FAILURE, /* delivery failed (error says why) */
    CERTIFY_WARNING,          /* no delivery receipt yet (certified_warning_after) */
    CERTIFY_FINAL_FAILURE,    /* none at all (certified_failure_after) */
    CERTIFY_ANOMALY,          /* an uncertified message reached a certified mailbox */
    CERTIFY_TYPE_COUNT
};

enum certify_error {
    CERTIFY_ERR_NONE,
    CERTIFY_ERR_NO_DESTINATION, /* unknown recipient */
    CERTIFY_ERR_VIRUS,
    CERTIFY_ERR_POLICY, /* refused by rules, size, sender not allowed */
    CERTIFY_ERR_FORMAT, /* the message itself is malformed */
    CERTIFY_ERR_TIMEOUT,
    CERTIFY_ERR_OTHER,
    CERTIFY_ERR_COUNT
};

/* The forms of a delivery receipt the sender chooses. */
enum certify_receipt_kind {
    CERTIFY_RECEIPT_COMPLETE, /* with the original message */
    CERTIFY_RECEIPT_SHORT,    /* with hashes of the original's parts */
    CERTIFY_RECEIPT_SUMMARY,  /* the data only */
    CERTIFY_RECEIPT_COUNT
};

struct certify_recipient {
    char addr[CERTIFY_ADDR_MAX];
    bool certified; /* served by a certification service (else "external") */
};

struct certify_part_hash {
    char path[CERTIFY_PART_PATH_MAX]; /* "1", "1.2": the part's IMAP section */
    char type[CERTIFY_PART_TYPE_MAX]; /* "text/plain" */
    char sha256[CERTIFY_HASH_HEX + 1];
};

struct certify_data {
    enum certify_type type;
    enum certify_error error;
    char sender[CERTIFY_ADDR_MAX];
    struct certify_recipient *rcpts; /* n_rcpts, owned */
    size_t n_rcpts;
    char subject[CERTIFY_TEXT_MAX];
    char service[CERTIFY_ADDR_MAX]; /* the issuing certification service (domain) */
    char id[CERTIFY_ID_MAX];        /* unique identifier of the certified message */
    char msgid[CERTIFY_TEXT_MAX];   /* Message-ID of the original, with <> */
    time_t time;
    int zone_minutes;                           /* offset of the local time written, -1439..1439 */
    char delivery[CERTIFY_ADDR_MAX];            /* the recipient this is about, or "" */
    bool has_receipt_kind;                      /* delivery receipts only */
    enum certify_receipt_kind receipt;          /* if has_receipt_kind */
    char original_sha256[CERTIFY_HASH_HEX + 1]; /* of the enclosed original, or "" */
    struct certify_part_hash *parts;            /* n_parts, owned (short receipts) */
    size_t n_parts;
    char error_ext[CERTIFY_TEXT_MAX]; /* extended error, or "" */
};

/* Names of the enum values as written; NULL for out-of-range values. */
const char *certify_type_name(enum certify_type t);
const char *certify_error_name(enum certify_error e);
const char *certify_receipt_kind_name(enum certify_receipt_kind k);
/* The enum value of a name; -1 if unknown. */
int certify_type_from_name(const char *s);
int certify_receipt_kind_from_name(const char *s);

/* Zero *d (no recipients, no parts). */
void certify_data_init(struct certify_data *d);
/* Free the recipients and part hashes; *d is zeroed. */
void certify_data_free(struct certify_data *d);
/* Append a recipient (copied). -1 with *error_r if too long or too many. */
int certify_data_add_recipient(struct certify_data *d, const char *addr, bool certified,
                               const char **error_r);
/* Append a part hash (copied). -1 with *error_r if too long or too many. */
int certify_data_add_part(struct certify_data *d, const char *path, const char *type,
                          const char *sha256, const char **error_r);

/* Copy src into dst (dstsize octets, terminated) as text fit for the data
 * part: line breaks of folding removed, other control characters become
 * spaces, and if src is not valid UTF-8 every byte >= 0x80 becomes '?'.
 * Truncated at a character boundary to fit. */
void certify_text_clean(char *dst, size_t dstsize, const char *src, size_t n);

/* Append the XML of d to out. Returns 0, or -1 with *error_r (static)
 * when a field is not clean text (see certify_text_clean) or out's
 * maximum was reached. */
int certify_data_write(const struct certify_data *d, struct buf *out, const char **error_r);

/* Parse xml[0..len) into *d (which the call initializes; free it with
 * certify_data_free, also after a failure). Returns 0, or -1 with a
 * static reason in *error_r. */
int certify_data_parse(const char *xml, size_t len, struct certify_data *d, const char **error_r);

#endif
