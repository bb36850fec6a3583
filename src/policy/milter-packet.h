/* milter-packet: the wire format of the Sendmail milter protocol, version 6.
 *
 * Every packet, in both directions, is a 4-byte big-endian length, then
 * that many bytes: a one-byte command and its data. Strings in the data
 * end with a NUL; numbers are big-endian. The MTA (postino) sends
 * commands (SMFIC_*), the milter answers with replies (SMFIR_*).
 *
 * This module is pure: encoders append whole packets to a buf, the
 * reader cuts a byte stream into packets, the decoder checks one reply
 * and points into its data. No socket, so it is unit-tested and fuzzed
 * alone; the client (milter.h) drives it. */
#ifndef POSTINO_POLICY_MILTER_PACKET_H
#define POSTINO_POLICY_MILTER_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define MILTER_VERSION        6u         /* the protocol version we speak */
#define MILTER_VERSION_MIN    2u         /* the oldest milter version accepted */
#define MILTER_PACKET_MAX     (1u << 20) /* bytes of command + data in one packet */
#define MILTER_BODY_CHUNK_MAX 65535u     /* bytes of body in one SMFIC_BODY */
#define MILTER_REPLY_LINE_MAX                                                                      \
    510u                   /* bytes of an SMFIR_REPLYCODE reply line                               \
                            * (RFC 5321: 512 with CRLF) */
#define MILTER_ENH_MAX 15u /* bytes of an enhanced code "5.123.123" */
#define MILTER_ADDRESS_MAX                                                                         \
    2048u                          /* bytes of an address or ESMTP arguments in a                  \
                                    * modification */
#define MILTER_FIELD_NAME_MAX 256u /* bytes of a header field name */

/* Commands, MTA to milter. */
#define SMFIC_ABORT   'A'
#define SMFIC_BODY    'B'
#define SMFIC_CONNECT 'C'
#define SMFIC_MACRO   'D'
#define SMFIC_BODYEOB 'E'
#define SMFIC_HELO    'H'
#define SMFIC_QUIT_NC 'K'
#define SMFIC_HEADER  'L'
#define SMFIC_MAIL    'M'
#define SMFIC_EOH     'N'
#define SMFIC_OPTNEG  'O'
#define SMFIC_QUIT    'Q'
#define SMFIC_RCPT    'R'
#define SMFIC_DATA    'T'

/* Replies, milter to MTA. */
#define SMFIR_ADDRCPT    '+'
#define SMFIR_DELRCPT    '-'
#define SMFIR_ACCEPT     'a'
#define SMFIR_REPLBODY   'b'
#define SMFIR_CONTINUE   'c'
#define SMFIR_DISCARD    'd'
#define SMFIR_CHGFROM    'e'
#define SMFIR_ADDHEADER  'h'
#define SMFIR_INSHEADER  'i'
#define SMFIR_CHGHEADER  'm'
#define SMFIR_OPTNEG     'O'
#define SMFIR_PROGRESS   'p'
#define SMFIR_QUARANTINE 'q'
#define SMFIR_REJECT     'r'
#define SMFIR_TEMPFAIL   't'
#define SMFIR_REPLYCODE  'y'

/* Actions (what the milter may change), negotiated in SMFIC_OPTNEG. */
#define SMFIF_ADDHDRS    0x001u /* ADDHEADER and INSHEADER */
#define SMFIF_CHGBODY    0x002u /* REPLBODY */
#define SMFIF_ADDRCPT    0x004u /* ADDRCPT */
#define SMFIF_DELRCPT    0x008u /* DELRCPT */
#define SMFIF_CHGHDRS    0x010u /* CHGHEADER */
#define SMFIF_QUARANTINE 0x020u /* QUARANTINE */
#define SMFIF_CHGFROM    0x040u /* CHGFROM */

/* Protocol flags: the steps the milter does not want to see, and
 * (SMFIP_NR_*) the steps it will not answer (rspamd asks for all of
 * those). SKIP, RCPT_REJ and HDR_LEADSPC are not offered. */
#define SMFIP_NOCONNECT 0x001u
#define SMFIP_NOHELO    0x002u
#define SMFIP_NOMAIL    0x004u
#define SMFIP_NORCPT    0x008u
#define SMFIP_NOBODY    0x010u
#define SMFIP_NOHDRS    0x020u
#define SMFIP_NOEOH     0x040u
#define SMFIP_NR_HDR    0x080u
#define SMFIP_NOUNKNOWN 0x100u
#define SMFIP_NODATA    0x200u
#define SMFIP_NR_CONN   0x1000u
#define SMFIP_NR_HELO   0x2000u
#define SMFIP_NR_MAIL   0x4000u
#define SMFIP_NR_RCPT   0x8000u
#define SMFIP_NR_DATA   0x10000u
#define SMFIP_NR_UNKN   0x20000u
#define SMFIP_NR_EOH    0x40000u
#define SMFIP_NR_BODY   0x80000u

/* Address families of SMFIC_CONNECT. */
#define SMFIA_UNKNOWN 'U'
#define SMFIA_UNIX    'L'
#define SMFIA_INET    '4'
#define SMFIA_INET6   '6'

/* --- encoders: each appends one whole packet to out, or nothing ---
 * They return 0, or -1 (out unchanged) if the packet would be larger
 * than MILTER_PACKET_MAX or out would pass its maximum. Strings are C
 * strings (so NUL-free); they are sent with their terminator. */

/* A packet of any command with data[0..len) (SMFIC_DATA, EOH, BODYEOB,
 * ABORT, QUIT and QUIT_NC carry none: pass NULL, 0). */
int milter_encode(struct buf *out, char cmd, const void *data, size_t len);
/* SMFIC_OPTNEG: version, the actions and protocol flags offered. */
int milter_encode_optneg(struct buf *out, uint32_t version, uint32_t actions, uint32_t protocol);
/* SMFIC_MACRO: the macros for the command `stage` ('C', 'H', 'M', ...):
 * n_pairs pairs of strings, names[i] = values[i]. */
int milter_encode_macro(struct buf *out, char stage, const char *const *names,
                        const char *const *values, size_t n_pairs);
/* SMFIC_CONNECT: the client's host name, family (SMFIA_*), port and
 * address. With SMFIA_UNKNOWN, port and address are not sent. */
int milter_encode_connect(struct buf *out, const char *hostname, char family, uint16_t port,
                          const char *address);
/* SMFIC_HELO: the HELO/EHLO argument. */
int milter_encode_helo(struct buf *out, const char *helo);
/* SMFIC_MAIL / SMFIC_RCPT: argv[0] is the address in angle brackets, then
 * the ESMTP parameters ("SIZE=1000"); argc >= 1. */
int milter_encode_args(struct buf *out, char cmd, const char *const *argv, size_t argc);
/* SMFIC_HEADER: one header field, its name and its value (unfolded or
 * folded as received, without the final CRLF). */
int milter_encode_header(struct buf *out, const char *name, const char *value);
/* SMFIC_BODY: len bytes of body; -1 if len > MILTER_BODY_CHUNK_MAX. */
int milter_encode_body(struct buf *out, const void *data, size_t len);

/* --- the incremental reader --- */

struct milter_reader {
    unsigned char head[4]; /* the length, as it arrives */
    size_t head_have;
    size_t want; /* command + data bytes of the current packet */
    struct buf packet;
    bool complete; /* packet holds a whole packet */
};

void milter_reader_init(struct milter_reader *r);
void milter_reader_free(struct milter_reader *r);
/* Take bytes p[0..n): stops at the end of one packet. Sets *used_r to the
 * bytes taken and returns 1 if a packet is complete (read it with
 * milter_reader_packet(); the next push starts the next packet), 0 if
 * more bytes are needed (all n were taken), -1 if the length is 0 or
 * larger than MILTER_PACKET_MAX (the stream cannot be resynchronized:
 * give up the connection). */
int milter_reader_push(struct milter_reader *r, const void *p, size_t n, size_t *used_r);
/* The complete packet: its command and data (valid until the next push
 * or free; data is followed by a NUL not counted in *len_r). */
void milter_reader_packet(const struct milter_reader *r, char *cmd_r, const char **data_r,
                          size_t *len_r);

/* --- the decoder of replies --- */

/* One reply. Strings point into the packet data given to the decoder
 * (they end with the NUL that ended them there) or are static ""; they
 * are valid as long as that data. */
struct milter_reply {
    char cmd; /* SMFIR_* */
    /* SMFIR_OPTNEG */
    uint32_t version, actions, protocol;
    /* SMFIR_REPLYCODE: code 400..599; enh "5.7.1" or ""; text after the
     * code and the enhanced code ("" if none); line the whole reply,
     * one line of printable ASCII. */
    unsigned code;
    char enh[MILTER_ENH_MAX + 1];
    const char *text;
    const char *line;
    /* SMFIR_INSHEADER, CHGHEADER: the index (1 = the first field of
     * that name for CHGHEADER; position in the header for INSHEADER). */
    uint32_t index;
    /* ADDHEADER, INSHEADER, CHGHEADER: name (a field name: printable
     * ASCII, no ':' or space, at most MILTER_FIELD_NAME_MAX) and value
     * ("" for CHGHEADER means delete); ADDRCPT, DELRCPT, CHGFROM: name
     * is the address (not empty, no control byte, at most
     * MILTER_ADDRESS_MAX), value the ESMTP arguments of CHGFROM or "";
     * QUARANTINE: name is the reason (not empty, no control byte, at
     * most MILTER_REPLY_LINE_MAX). "" where unused. */
    const char *name;
    const char *value;
    /* SMFIR_REPLBODY: a piece of the new body. */
    const char *body;
    size_t body_len;
};

/* Decode the reply cmd with data[0..len) (need not be terminated).
 * Returns 0, or -1 with a static reason in *error_r: an unknown reply,
 * a missing or extra NUL, a field out of bounds or with forbidden bytes
 * (a header value may hold CR LF and LF only as folding, followed by a
 * space or tab; names and addresses no control byte), a REPLYCODE that
 * is not "4xx"/"5xx" with an enhanced code of the same class. The
 * SMFIR_OPTNEG reply may carry more than its three numbers (the macro
 * lists of SMFIF_SETSYMLIST, which is not offered): they are ignored. */
int milter_reply_decode(char cmd, const char *data, size_t len, struct milter_reply *out,
                        const char **error_r);

#endif
