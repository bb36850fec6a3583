/* mime-rfc822: the lexical tokens of RFC 5322 / RFC 2045 header values
 * (comments, atoms, dot-atoms, MIME tokens, quoted strings, phrases,
 * domains), read the way Dovecot's rfc822-parser reads them, so that
 * ENVELOPE and BODYSTRUCTURE agree with what IMAP clients already see.
 *
 * A lexer walks [data, end) of one unfolded-or-not field value; CR and LF
 * count as white space. Every function returns 1 if more input follows the
 * token (white space and comments after it skipped), 0 at the end of the
 * input, -1 on a syntax error (the position is then unspecified but never
 * past end). Text goes to a struct buf; an append past the buffer's
 * maximum is a syntax error. */
#ifndef POSTINO_MIME_RFC822_H
#define POSTINO_MIME_RFC822_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

struct mime_lexer {
    const unsigned char *data;
    const unsigned char *end;
    /* When not NULL, receives the text of the last comment skipped. */
    struct buf *last_comment;
};

void mime_lexer_init(struct mime_lexer *lx, const char *data, size_t len, struct buf *last_comment);

/* RFC 5322 atext (8-bit bytes count as atext, as in Dovecot). */
bool mime_is_atext(unsigned char c);
/* atext that is not a MIME tspecial ('/', '=', '?'), or '.'. */
bool mime_is_token_char(unsigned char c);

/* Skip a comment at '(' (nested, with quoted pairs). */
int mime_lex_skip_comment(struct mime_lexer *lx);
/* Skip white space (SP, TAB, CR, LF) and comments. */
int mime_lex_skip_lwsp(struct mime_lexer *lx);
/* 1*atext; -1 if none. */
int mime_lex_atom(struct mime_lexer *lx, struct buf *out);
/* atext *("." atext), white space allowed around the dots. */
int mime_lex_dot_atom(struct mime_lexer *lx, struct buf *out);
/* A MIME token (may be empty). */
int mime_lex_token(struct mime_lexer *lx, struct buf *out);
/* A quoted string at '"': the content, quoted pairs and folding removed. */
int mime_lex_quoted(struct mime_lexer *lx, struct buf *out);
/* phrase = 1*word / obs-phrase; words joined with one space. */
int mime_lex_phrase(struct mime_lexer *lx, struct buf *out);
/* "@" domain at '@': a dot-atom or a domain literal. */
int mime_lex_domain(struct mime_lexer *lx, struct buf *out);
/* type "/" subtype into out as "type/subtype". Both must be non-empty and
 * only a ';' may follow; otherwise -1 and nothing is added to out. */
int mime_lex_content_type(struct mime_lexer *lx, struct buf *out);
/* One ";" attribute "=" value. Returns 1 with key and value set, 0 at the
 * end of input, -1 on a syntax error (key may be set if the value was
 * broken). */
int mime_lex_param(struct mime_lexer *lx, struct buf *key, struct buf *value);

#endif
