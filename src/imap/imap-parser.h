/* imap-parser: read IMAP commands (RFC 3501 section 9, literals of
 * RFC 7888) from bytes as they arrive, in pieces of any size.
 *
 * The parser never touches a socket. The session hands it the bytes it has
 * received; the parser takes as many as it needs to reach the next event
 * and tells the session what happened:
 *
 *   IMAP_PARSE_NEED_MORE      every byte was taken; feed more when it comes.
 *   IMAP_PARSE_LITERAL        a literal {n} or {n+} was announced (see
 *                             imap_parser_literal()); the session decides
 *                             with imap_parser_literal_accept() or
 *                             imap_parser_literal_refuse() before feeding on.
 *   IMAP_PARSE_LITERAL_DATA   a piece of a literal the session chose to
 *                             stream (imap_parser_literal_data()).
 *   IMAP_PARSE_COMMAND        a complete command (imap_parser_command()).
 *   IMAP_PARSE_LINE           in line mode, one raw line (imap_parser_line()).
 *   IMAP_PARSE_ERROR          a bad command was read to its end and dropped:
 *                             reply "TAG BAD TEXT" with imap_parser_tag() and
 *                             imap_parser_error(). The parser has resynced.
 *   IMAP_PARSE_FATAL          the client cannot be followed any more (a
 *                             literal too large to read or skip): reply
 *                             "* BYE TEXT" and close the connection.
 *
 * Typical loop:
 *
 *   while (input not empty) {
 *       size_t used;
 *       enum imap_parse_status st = imap_parser_feed(p, in, in_len, &used);
 *       drop `used` bytes from the input;   (do it before acting: see below)
 *       switch (st) { ... }
 *       if (st == IMAP_PARSE_NEED_MORE) break;
 *   }
 *
 * The parser stops right after each event, so bytes that follow a command
 * stay in the caller's input: after STARTTLS the session can throw them
 * away (no command injection), before IDLE or AUTHENTICATE it can switch
 * the parser to line mode first.
 *
 * Lines end only with CRLF. A bare CR, a bare LF or a NUL inside a command
 * line makes the command bad; 8-bit bytes are refused in atoms, and quoted
 * strings must be valid UTF-8. A bad command is skipped up to its end: the
 * CRLF of its line, or, when that line announces a non-synchronizing
 * literal, past the literal and the lines that follow it, so that no literal
 * data is ever taken as a command. When the bad line announces a
 * synchronizing literal the client waits for our answer, so the error is
 * reported at once. Every limit below is checked where the bytes arrive; a
 * command crossing one is answered with BAD.
 *
 * Argument tree: each command is a tag, a command name and a list of
 * struct imap_arg. Atoms, quoted strings (unescaped), literals (binary
 * safe), NIL and parenthesised lists are told apart. The fetch attributes
 * BODY[...]<...>, BODY.PEEK[...], BINARY[...], BINARY.PEEK[...] and
 * BINARY.SIZE[...] are read as one ATOM whose section (the arguments
 * between the brackets, a list that may hold atoms, strings and lists) and
 * optional partial (the text between < and >) hang on it. After any other
 * atom text, '[' and ']' are ordinary atom characters ("[Gmail]/Sent"),
 * as are '%', '*' and '\' (list wildcards, sequence sets "1:*", flags). */
#ifndef POSTINO_IMAP_PARSER_H
#define POSTINO_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest line of a command between two literals, CRLF included. */
#define IMAP_LINE_MAX (64 * 1024)
/* All the lines of one command together (literal data not counted). */
#define IMAP_COMMAND_MAX (256 * 1024)
/* Nesting of parenthesised lists (a BODY[...] section counts as one). */
#define IMAP_LIST_DEPTH_MAX 32
/* Arguments in one command, counting every list, section and element. */
#define IMAP_ARGS_MAX 8192
/* A tag, and a command name. */
#define IMAP_TAG_MAX          64
#define IMAP_COMMAND_NAME_MAX 32
/* The text between '<' and '>' of a partial fetch. */
#define IMAP_PARTIAL_MAX 32
/* The largest literal_max imap_parser_new() takes (1 GiB): literal data
 * the session agrees to is held in memory unless streamed. */
#define IMAP_LITERAL_LIMIT ((uint64_t)1 << 30)

enum imap_parse_status {
    IMAP_PARSE_NEED_MORE,
    IMAP_PARSE_LITERAL,
    IMAP_PARSE_LITERAL_DATA,
    IMAP_PARSE_COMMAND,
    IMAP_PARSE_LINE,
    IMAP_PARSE_ERROR,
    IMAP_PARSE_FATAL,
};

enum imap_arg_type {
    IMAP_ARG_ATOM,    /* str: the atom as sent (case kept) */
    IMAP_ARG_QUOTED,  /* str: the string without quotes and escapes */
    IMAP_ARG_LITERAL, /* str, len: the literal's octets (may hold NUL) */
    IMAP_ARG_NIL,     /* the atom NIL in any case; str still holds it as sent */
    IMAP_ARG_LIST,    /* list, count: the elements between ( and ) */
};

struct imap_arg {
    enum imap_arg_type type;
    /* ATOM, QUOTED, LITERAL, NIL: the text, NUL-terminated (len does not
     * count the terminator). A streamed literal has str "" and len the
     * literal's size. NULL for a LIST. */
    const char *str;
    size_t len;
    bool literal_nonsync;  /* LITERAL: sent as {n+} */
    bool literal_streamed; /* LITERAL: handed to the session piece by piece */
    /* LIST: the elements. */
    const struct imap_arg *list;
    size_t count;
    /* ATOM BODY / BODY.PEEK / BINARY / BINARY.PEEK / BINARY.SIZE followed
     * by '[': has_section, and the arguments inside the brackets (maybe
     * none: BODY[]). */
    bool has_section;
    const struct imap_arg *section;
    size_t section_count;
    /* After the section, "<...>": the text between the angle brackets
     * (only digits and dots, NUL-terminated, not yet checked further). */
    const char *partial; /* NULL without one */
};

struct imap_command {
    const char *tag;             /* as sent */
    const char *name;            /* the command name in upper case, e.g. "UID" */
    const struct imap_arg *args; /* never NULL, even when count is 0 */
    size_t count;
};

struct imap_parser;

/* A parser for one connection. literal_max is the largest literal the
 * session will ever take (its maximum message size), at most
 * IMAP_LITERAL_LIMIT (larger values are lowered to it); the literals of
 * one command together may not exceed it either. Never returns NULL. */
struct imap_parser *imap_parser_new(uint64_t literal_max);
/* Free the parser and everything it returned; *p becomes NULL. */
void imap_parser_free(struct imap_parser **p);

/* Take bytes data[0..len) and report the next event. *consumed_r is set to
 * how many bytes were taken (all of them for NEED_MORE, possibly none for
 * other events); the caller drops them and calls again with the rest. What
 * an event returned (command, line, literal data, error text) stays valid
 * until the next call of any imap_parser_* function on p, except that
 * LITERAL_DATA points into the caller's own data. After FATAL every call
 * returns FATAL again. */
enum imap_parse_status imap_parser_feed(struct imap_parser *p, const char *data, size_t len,
                                        size_t *consumed_r);

/* After IMAP_PARSE_COMMAND: the command. */
const struct imap_command *imap_parser_command(const struct imap_parser *p);

/* After IMAP_PARSE_ERROR or IMAP_PARSE_FATAL: the text of the reply,
 * e.g. "Missing ')'" or "[TOOBIG] Literal too large" (a static string). */
const char *imap_parser_error(const struct imap_parser *p);

/* The tag of the command being read or just read, or "*" when it has none
 * (yet) or it was not a valid tag: "TAG BAD text" / "* BAD text". */
const char *imap_parser_tag(const struct imap_parser *p);

/* After IMAP_PARSE_LITERAL: what was announced. partial holds the tag, the
 * command name and the arguments read so far (lists still open show the
 * elements so far; the announced literal itself is not among them), so
 * that the session can judge, e.g., APPEND's mailbox before the message
 * comes. */
struct imap_literal_info {
    uint64_t size;
    bool nonsync; /* {n+}: the data follows without waiting */
    struct imap_command partial;
};
const struct imap_literal_info *imap_parser_literal(const struct imap_parser *p);

/* After IMAP_PARSE_LITERAL, take the literal. For a synchronizing literal
 * the session then sends "+ ..." itself. With stream false the data is
 * read into the command (str of its arg); with stream true it comes out as
 * IMAP_PARSE_LITERAL_DATA events and the arg is marked literal_streamed.
 * Announcements larger than literal_max (less what earlier literals of
 * the command took) never reach the session: they end as ERROR (a
 * synchronizing one, "[TOOBIG] ...") or FATAL (a non-synchronizing one,
 * which could only be skipped by reading it). */
void imap_parser_literal_accept(struct imap_parser *p, bool stream);

/* After IMAP_PARSE_LITERAL, refuse the literal and drop the command. The
 * session sends the tagged reply it sees fit (e.g. "TAG NO [OVERQUOTA]
 * ..."). A synchronizing literal will not be sent by the client; a
 * non-synchronizing one is being sent: the parser reads it and the rest of
 * the command and throws them away, then goes on with the next command
 * (RFC 7888 section 4: read and discard). Either way no further event is
 * reported for this command. */
void imap_parser_literal_refuse(struct imap_parser *p);

/* After IMAP_PARSE_LITERAL_DATA: the piece, pointing into the data of the
 * last feed; *last_r is true for the final piece. */
const char *imap_parser_literal_data(const struct imap_parser *p, size_t *len_r, bool *last_r);

/* Read the next line raw, as IDLE's "DONE" or an AUTHENTICATE response,
 * instead of a command: the next event is IMAP_PARSE_LINE (or ERROR for a
 * line over IMAP_LINE_MAX or holding a bare CR, LF or NUL; imap_parser_tag()
 * is then "*": the session knows which command the line belonged to),
 * after which the parser reads commands again. Only between commands (not while one is
 * being read); returns -1 otherwise, 0 on success. */
int imap_parser_read_line(struct imap_parser *p);

/* After IMAP_PARSE_LINE: the line without its CRLF, NUL-terminated. */
const char *imap_parser_line(const struct imap_parser *p, size_t *len_r);

/* True if a command has been started and not yet finished (some of its
 * bytes were taken): a connection closed then lost a command. */
bool imap_parser_busy(const struct imap_parser *p);

/* Helpers for the command parsers. */

/* The text of an atom, quoted string or literal (and NIL read as the atom
 * "NIL"), for an astring argument; NULL for a list, an atom with a section
 * or a streamed literal. Sets *len_r when not NULL. */
const char *imap_arg_astring(const struct imap_arg *a, size_t *len_r);
/* The text of a quoted string or literal (a "string"); NULL otherwise. */
const char *imap_arg_string(const struct imap_arg *a, size_t *len_r);
/* The text of a plain atom (no section); NULL otherwise. */
const char *imap_arg_atom(const struct imap_arg *a);
/* True if a is a plain atom equal to word, ASCII case-insensitive. */
bool imap_arg_atom_is(const struct imap_arg *a, const char *word);

#endif
