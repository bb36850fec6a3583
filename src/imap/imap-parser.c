#include "imap-parser.h"

#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xalloc.h"

/* Where the reader is. */
enum phase {
    PH_LINE,            /* collecting a command line */
    PH_LITERAL_WAIT,    /* LITERAL reported; the session must decide */
    PH_LITERAL,         /* reading literal data into the command */
    PH_LITERAL_STREAM,  /* handing literal data to the session */
    PH_DISCARD_LINE,    /* skipping a bad command's line up to its CRLF */
    PH_DISCARD_LITERAL, /* skipping a bad command's literal */
    PH_RAW_LINE,        /* collecting one raw line */
    PH_RAW_DISCARD,     /* skipping the rest of an over-long raw line */
    PH_FATAL,
};

/* What the tokenizer expects next on a line. */
enum expect {
    EX_TOKEN,     /* after a space: an argument */
    EX_FIRST,     /* after '(' or '[': an argument or the closer */
    EX_SEPARATOR, /* after an argument: space, closer or end of line */
};

/* The bytes of a bad line's end kept to spot a literal announcement. */
#define TAIL_MAX 32

/* A node of the argument tree while it is built: children are chained. */
struct node {
    enum imap_arg_type type;
    bool nonsync, streamed, has_section;
    size_t str_off, len;
    size_t partial_off; /* (size_t)-1: none */
    int first, last, next;
    size_t count;
};

struct imap_parser {
    uint64_t literal_max;
    uint64_t literal_used; /* literal octets of this command so far */
    enum phase phase;
    bool reset_pending; /* the last event ended a command: start afresh */
    bool in_command;    /* some bytes of a command were taken */
    bool first_line;    /* the tag and command name are still to come */
    bool silent;        /* discarding a command the session refused */
    const char *error;  /* error of the command being discarded */

    char tag[IMAP_TAG_MAX + 1];
    char name[IMAP_COMMAND_NAME_MAX + 1];

    struct buf line;    /* the current line, CRLF included */
    struct buf strings; /* text of every argument, each NUL-terminated */
    size_t cmd_bytes;   /* line octets of this command */

    struct node *nodes; /* nodes[0] is the root: the command's arguments */
    size_t n_nodes, cap_nodes;
    int stack[IMAP_LIST_DEPTH_MAX + 1]; /* open containers, stack[0] = 0 */
    size_t depth;
    bool section_open;
    enum expect expect;

    uint64_t lit_size; /* announced literal */
    bool lit_nonsync;
    uint64_t left; /* octets of literal data still to come */
    int lit_node;

    char tail[TAIL_MAX]; /* last octets of a line being discarded */
    size_t tail_len;
    bool tail_cut;
    bool tail_cr; /* the last octet discarded was CR */

    struct imap_arg *args; /* the tree as handed out */
    struct imap_command command;
    struct imap_literal_info literal;
    const char *chunk;
    size_t chunk_len;
    bool chunk_last;
};

struct imap_parser *imap_parser_new(uint64_t literal_max)
{
    struct imap_parser *p = xcalloc(1, sizeof(*p));
    p->literal_max = literal_max > IMAP_LITERAL_LIMIT ? IMAP_LITERAL_LIMIT : literal_max;
    buf_init(&p->line, IMAP_LINE_MAX);
    buf_init(&p->strings,
             (size_t)(IMAP_COMMAND_MAX + 4 * (uint64_t)IMAP_ARGS_MAX + p->literal_max + 16));
    p->phase = PH_LINE;
    p->reset_pending = true;
    return p;
}

void imap_parser_free(struct imap_parser **pp)
{
    struct imap_parser *p = *pp;
    if (!p)
        return;
    buf_free(&p->line);
    buf_free(&p->strings);
    free(p->nodes);
    free(p->args);
    x_free(pp);
}

/* Forget the command just reported and get ready for the next one. */
static void reset_command(struct imap_parser *p)
{
    p->reset_pending = false;
    p->in_command = false;
    p->first_line = true;
    p->silent = false;
    p->error = NULL;
    p->tag[0] = '\0';
    p->name[0] = '\0';
    buf_reset(&p->line);
    buf_reset(&p->strings);
    p->cmd_bytes = 0;
    p->literal_used = 0;
    if (!p->nodes) {
        p->cap_nodes = 64;
        p->nodes = xcalloc(p->cap_nodes, sizeof(*p->nodes));
    }
    memset(&p->nodes[0], 0, sizeof(p->nodes[0]));
    p->nodes[0].type = IMAP_ARG_LIST;
    p->nodes[0].first = p->nodes[0].last = p->nodes[0].next = -1;
    p->n_nodes = 1;
    p->stack[0] = 0;
    p->depth = 0;
    p->section_open = false;
    p->expect = EX_SEPARATOR;
    p->tail_len = 0;
    p->tail_cut = false;
    p->tail_cr = false;
    free(p->args);
    p->args = NULL;
    memset(&p->command, 0, sizeof(p->command));
}

/* Add a node to the innermost open container. Returns its index, or -1
 * past IMAP_ARGS_MAX. */
static int add_node(struct imap_parser *p, enum imap_arg_type type)
{
    if (p->n_nodes > IMAP_ARGS_MAX)
        return -1;
    if (p->n_nodes == p->cap_nodes) {
        p->cap_nodes *= 2;
        p->nodes = xrealloc(p->nodes, p->cap_nodes * sizeof(*p->nodes));
    }
    int id = (int)p->n_nodes++;
    struct node *n = &p->nodes[id];
    memset(n, 0, sizeof(*n));
    n->type = type;
    n->first = n->last = n->next = -1;
    n->partial_off = (size_t)-1;
    struct node *parent = &p->nodes[p->stack[p->depth]];
    if (parent->last >= 0)
        p->nodes[parent->last].next = id;
    else
        parent->first = id;
    parent->last = id;
    parent->count++;
    return id;
}

/* Lay the chained tree out as arrays (each container's elements side by
 * side) with pointers into the strings; p->command describes it. */
static void build_args(struct imap_parser *p)
{
    free(p->args);
    p->args = NULL;
    size_t n = p->n_nodes - 1;
    p->command.tag = p->tag[0] ? p->tag : "*";
    p->command.name = p->name;
    p->command.count = p->nodes[0].count;
    if (n == 0) {
        /* Never NULL, so that callers may compute args + i freely. */
        static const struct imap_arg none[1];
        p->command.args = none;
        return;
    }
    p->args = xcalloc(n, sizeof(*p->args));
    int *order = xcalloc(n, sizeof(*order));
    size_t placed = 0;
    for (int c = p->nodes[0].first; c >= 0; c = p->nodes[c].next)
        order[placed++] = c;
    const char *base = buf_cstr(&p->strings);
    for (size_t i = 0; i < placed; i++) {
        const struct node *nd = &p->nodes[order[i]];
        struct imap_arg *a = &p->args[i];
        a->type = nd->type;
        if (nd->type != IMAP_ARG_LIST) {
            a->str = nd->streamed ? "" : base + nd->str_off;
            a->len = nd->len;
        }
        a->literal_nonsync = nd->nonsync;
        a->literal_streamed = nd->streamed;
        a->has_section = nd->has_section;
        if (nd->partial_off != (size_t)-1)
            a->partial = base + nd->partial_off;
        if (nd->type == IMAP_ARG_LIST || nd->has_section) {
            const struct imap_arg *kids = nd->count ? &p->args[placed] : NULL;
            for (int c = nd->first; c >= 0; c = p->nodes[c].next)
                order[placed++] = c;
            if (nd->type == IMAP_ARG_LIST) {
                a->list = kids;
                a->count = nd->count;
            } else {
                a->section = kids;
                a->section_count = nd->count;
            }
        }
    }
    free(order);
    p->command.args = p->args;
}

/* Whether the octet may be part of an atom here. */
static bool atom_char(const struct imap_parser *p, unsigned char c)
{
    if (c <= 0x20 || c >= 0x7f)
        return false;
    if (c == '(' || c == ')' || c == '{' || c == '"')
        return false;
    if (c == ']' && p->section_open)
        return false;
    return true;
}

/* Atoms after which '[' opens a fetch section. */
static bool section_atom(const char *s, size_t n)
{
    static const char *const words[] = {"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK",
                                        "BINARY.SIZE"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strlen(words[i]) == n && str_eqn_ci(s, words[i], n))
            return true;
    return false;
}

/* If s[0..n) ends with a literal announcement "{digits}" or "{digits+}",
 * return true with its size (UINT64_MAX if too large to read). cut says
 * that s is only the end of a longer line: digits reaching its start are
 * taken as a huge announcement. */
static bool literal_suffix(const char *s, size_t n, bool cut, uint64_t *size, bool *nonsync)
{
    if (n == 0 || s[n - 1] != '}')
        return false;
    size_t i = n - 1;
    *nonsync = false;
    if (i > 0 && s[i - 1] == '+') {
        *nonsync = true;
        i--;
    }
    size_t end = i;
    while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')
        i--;
    size_t digits = end - i;
    if (digits == 0)
        return false;
    if (i == 0) {
        if (!cut)
            return false;
        *size = UINT64_MAX;
        return true;
    }
    if (s[i - 1] != '{')
        return false;
    unsigned long long v;
    if (str_to_u64(s + i, digits, IMAP_LITERAL_LIMIT, &v) != 0)
        v = UINT64_MAX;
    *size = v;
    return true;
}

/* Keep the last TAIL_MAX octets of a line being discarded. */
static void tail_push(struct imap_parser *p, const char *s, size_t n)
{
    if (n >= TAIL_MAX) {
        p->tail_cut = p->tail_cut || n > TAIL_MAX || p->tail_len > 0;
        memcpy(p->tail, s + n - TAIL_MAX, TAIL_MAX);
        p->tail_len = TAIL_MAX;
        return;
    }
    if (p->tail_len + n > TAIL_MAX) {
        size_t drop = p->tail_len + n - TAIL_MAX;
        memmove(p->tail, p->tail + drop, p->tail_len - drop);
        p->tail_len -= drop;
        p->tail_cut = true;
    }
    memcpy(p->tail + p->tail_len, s, n);
    p->tail_len += n;
}

/* Status of an internal step: an event, or go on reading. */
#define STEP_GO_ON (-1)

/* The command is bad: report the error now, or skip the non-synchronizing
 * literal the line s[0..n) (CRLF excluded) announces and what follows. */
static int fail_line(struct imap_parser *p, const char *msg, const char *s, size_t n, bool cut)
{
    if (!p->error)
        p->error = msg;
    uint64_t size;
    bool nonsync;
    if (literal_suffix(s, n, cut, &size, &nonsync) && nonsync) {
        if (size > p->literal_max) {
            p->error = "[TOOBIG] Literal too large";
            p->phase = PH_FATAL;
            return IMAP_PARSE_FATAL;
        }
        p->left = size;
        p->phase = PH_DISCARD_LITERAL;
        return STEP_GO_ON;
    }
    p->phase = PH_LINE;
    p->reset_pending = true;
    if (p->silent) {
        reset_command(p);
        return STEP_GO_ON;
    }
    return IMAP_PARSE_ERROR;
}

/* For a first line too bad to parse: take its tag if it has a valid one,
 * so that the BAD reply can carry it. */
static void grab_tag(struct imap_parser *p, const char *s, size_t n)
{
    if (!p->first_line)
        return;
    p->first_line = false;
    size_t i = 0;
    while (i < n && i <= IMAP_TAG_MAX && s[i] != ' ') {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\+", c) != NULL)
            return;
        i++;
    }
    if (i == 0 || i > IMAP_TAG_MAX || i == n)
        return;
    memcpy(p->tag, s, i);
    p->tag[i] = '\0';
}

/* Parse "tag SP name" at the start of the first line; sets *pos past them
 * (and past the space that follows, if any). Returns NULL or an error. */
static const char *parse_tag_name(struct imap_parser *p, const char *s, size_t n, size_t *pos)
{
    size_t i = 0;
    while (i < n && s[i] != ' ') {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\+", c) != NULL)
            return n == 0 ? "Empty command line" : "Invalid tag";
        i++;
    }
    if (i == 0)
        return n == 0 ? "Empty command line" : "Invalid tag";
    if (i > IMAP_TAG_MAX)
        return "Tag too long";
    memcpy(p->tag, s, i);
    p->tag[i] = '\0';
    if (i == n)
        return "Missing command name";
    size_t start = ++i;
    while (i < n && s[i] != ' ') {
        char c = s[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.';
        if (!ok)
            return "Invalid command name";
        i++;
    }
    size_t len = i - start;
    if (len == 0)
        return "Missing command name";
    if (len > IMAP_COMMAND_NAME_MAX)
        return "Command name too long";
    for (size_t k = 0; k < len; k++) {
        char c = s[start + k];
        p->name[k] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
    }
    p->name[len] = '\0';
    if (i == n) {
        *pos = n;
        p->expect = EX_SEPARATOR;
    } else {
        *pos = i + 1;
        p->expect = EX_TOKEN;
    }
    return NULL;
}

/* Results of tokenizing one line. */
enum tok {
    TOK_END,     /* the line ended: the command is complete */
    TOK_LITERAL, /* the line ended with a literal announcement */
    TOK_ERROR,
};

/* Open a container (list or section) on the stack. */
static const char *push(struct imap_parser *p, int id)
{
    if (p->depth >= IMAP_LIST_DEPTH_MAX)
        return "Too deeply nested";
    p->stack[++p->depth] = id;
    p->expect = EX_FIRST;
    return NULL;
}

/* Read a quoted string starting after its '"' at s[*pos]. */
static const char *read_quoted(struct imap_parser *p, const char *s, size_t n, size_t *pos)
{
    int id = add_node(p, IMAP_ARG_QUOTED);
    if (id < 0)
        return "Too many arguments";
    size_t off = p->strings.len;
    size_t i = *pos;
    for (;;) {
        if (i >= n)
            return "Unterminated quoted string";
        char c = s[i++];
        if (c == '"')
            break;
        if (c == '\\') {
            if (i >= n || (s[i] != '"' && s[i] != '\\'))
                return "Invalid escape in quoted string";
            c = s[i++];
        }
        if (buf_append_char(&p->strings, c) != 0)
            return "Command too long";
    }
    size_t len = p->strings.len - off;
    if (!str_utf8_valid(p->strings.data ? p->strings.data + off : "", len))
        return "Quoted string is not valid UTF-8";
    if (buf_append_char(&p->strings, '\0') != 0)
        return "Command too long";
    p->nodes[id].str_off = off;
    p->nodes[id].len = len;
    *pos = i;
    return NULL;
}

/* Read the "<digits.digits>" after a section's ']'. */
static const char *read_partial(struct imap_parser *p, int id, const char *s, size_t n, size_t *pos)
{
    size_t i = *pos + 1;
    size_t start = i;
    while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
        i++;
    if (i >= n || s[i] != '>' || i == start)
        return "Invalid partial range";
    if (i - start > IMAP_PARTIAL_MAX)
        return "Partial range too long";
    size_t off = p->strings.len;
    if (buf_append(&p->strings, s + start, i - start) != 0 ||
        buf_append_char(&p->strings, '\0') != 0)
        return "Command too long";
    p->nodes[id].partial_off = off;
    *pos = i + 1;
    return NULL;
}

/* Read an atom (or NIL, or the start of a fetch section). */
static const char *read_atom(struct imap_parser *p, const char *s, size_t n, size_t *pos)
{
    size_t i = *pos;
    bool section = false;
    while (i < n && atom_char(p, (unsigned char)s[i])) {
        if (s[i] == '[' && !p->section_open && section_atom(s + *pos, i - *pos)) {
            section = true;
            break;
        }
        i++;
    }
    if (i == *pos) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80)
            return "8-bit characters are not allowed in atoms";
        if (c < 0x20 || c == 0x7f)
            return "Control characters are not allowed in atoms";
        return "Unexpected character";
    }
    size_t len = i - *pos;
    bool nil = len == 3 && str_eqn_ci(s + *pos, "NIL", 3);
    int id = add_node(p, nil ? IMAP_ARG_NIL : IMAP_ARG_ATOM);
    if (id < 0)
        return "Too many arguments";
    size_t off = p->strings.len;
    if (buf_append(&p->strings, s + *pos, len) != 0 || buf_append_char(&p->strings, '\0') != 0)
        return "Command too long";
    p->nodes[id].str_off = off;
    p->nodes[id].len = len;
    if (i < n && (unsigned char)s[i] >= 0x80)
        return "8-bit characters are not allowed in atoms";
    if (i < n && ((unsigned char)s[i] < 0x20 || s[i] == 0x7f))
        return "Control characters are not allowed in atoms";
    *pos = i;
    if (section) {
        p->nodes[id].has_section = true;
        p->section_open = true;
        *pos = i + 1;
        return push(p, id);
    }
    p->expect = EX_SEPARATOR;
    return NULL;
}

/* Read "{digits}" or "{digits+}" ending the line at s[*pos]. */
static const char *read_literal(struct imap_parser *p, const char *s, size_t n, size_t pos)
{
    size_t i = pos + 1, start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    size_t digits = i - start;
    bool nonsync = false;
    if (i < n && s[i] == '+') {
        nonsync = true;
        i++;
    }
    if (digits == 0 || i >= n || s[i] != '}')
        return "Invalid literal";
    if (i + 1 != n)
        return "Literal must end the line";
    unsigned long long v;
    if (str_to_u64(s + start, digits, IMAP_LITERAL_LIMIT, &v) != 0)
        v = UINT64_MAX;
    if (p->n_nodes > IMAP_ARGS_MAX)
        return "Too many arguments";
    p->lit_size = v;
    p->lit_nonsync = nonsync;
    return NULL;
}

/* Turn the arguments on s[pos..n) into nodes. */
static enum tok tokenize(struct imap_parser *p, const char *s, size_t n, size_t pos,
                         const char **err)
{
    const char *e = NULL;
    while (pos < n) {
        char c = s[pos];
        int top = p->stack[p->depth];
        bool in_section = p->depth > 0 && p->nodes[top].has_section;
        bool closer = c == ')' || (c == ']' && p->section_open);
        if (p->expect == EX_SEPARATOR) {
            if (c == ' ') {
                p->expect = EX_TOKEN;
                pos++;
                continue;
            }
            if (!closer) {
                *err = "Missing space between arguments";
                return TOK_ERROR;
            }
        }
        if (closer) {
            if (p->expect == EX_TOKEN) {
                *err = "Missing argument";
                return TOK_ERROR;
            }
            if (c == ')' && (p->depth == 0 || in_section)) {
                *err = "Unexpected ')'";
                return TOK_ERROR;
            }
            if (c == ']' && !in_section) {
                *err = "Unexpected ']'";
                return TOK_ERROR;
            }
            p->depth--;
            pos++;
            p->expect = EX_SEPARATOR;
            if (c == ']') {
                p->section_open = false;
                if (pos < n && s[pos] == '<' && (e = read_partial(p, top, s, n, &pos)) != NULL)
                    break;
            }
            continue;
        }
        if (c == ' ') {
            *err = p->expect == EX_FIRST ? "Unexpected space" : "Missing argument";
            return TOK_ERROR;
        }
        if (c == '(') {
            int id = add_node(p, IMAP_ARG_LIST);
            if (id < 0) {
                e = "Too many arguments";
                break;
            }
            pos++;
            if ((e = push(p, id)) != NULL)
                break;
            continue;
        }
        if (c == '"') {
            pos++;
            if ((e = read_quoted(p, s, n, &pos)) != NULL)
                break;
            p->expect = EX_SEPARATOR;
            continue;
        }
        if (c == '{') {
            if ((e = read_literal(p, s, n, pos)) != NULL)
                break;
            return TOK_LITERAL;
        }
        if ((e = read_atom(p, s, n, &pos)) != NULL)
            break;
    }
    if (e) {
        *err = e;
        return TOK_ERROR;
    }
    if (p->expect == EX_TOKEN) {
        *err = "Missing argument";
        return TOK_ERROR;
    }
    if (p->depth > 0) {
        *err = p->section_open ? "Missing ']'" : "Missing ')'";
        return TOK_ERROR;
    }
    return TOK_END;
}

/* A whole command line (CRLF included) is in p->line. */
static int line_done(struct imap_parser *p)
{
    const char *s = buf_cstr(&p->line);
    size_t n = p->line.len - 2;
    p->cmd_bytes += p->line.len;
    const char *err = NULL;
    size_t pos = 0;
    if (p->cmd_bytes > IMAP_COMMAND_MAX) {
        err = "Command too long";
    } else if (memchr(s, '\r', n) || memchr(s, '\n', n) || memchr(s, '\0', n)) {
        err = "Command line holds a bare CR, LF or NUL";
        grab_tag(p, s, n);
    } else if (p->first_line) {
        p->first_line = false;
        err = parse_tag_name(p, s, n, &pos);
    }
    enum tok t = TOK_ERROR;
    if (!err)
        t = tokenize(p, s, n, pos, &err);
    if (t == TOK_ERROR) {
        int r = fail_line(p, err, s, n, false);
        buf_reset(&p->line);
        return r;
    }
    buf_reset(&p->line);
    if (t == TOK_END) {
        p->reset_pending = true;
        build_args(p);
        return IMAP_PARSE_COMMAND;
    }
    /* A literal. */
    p->expect = EX_SEPARATOR;
    if (p->lit_size > p->literal_max - p->literal_used) {
        p->error = "[TOOBIG] Literal too large";
        if (p->lit_nonsync) {
            p->phase = PH_FATAL;
            return IMAP_PARSE_FATAL;
        }
        p->reset_pending = true;
        return IMAP_PARSE_ERROR;
    }
    build_args(p);
    p->literal.size = p->lit_size;
    p->literal.nonsync = p->lit_nonsync;
    p->literal.partial = p->command;
    p->phase = PH_LITERAL_WAIT;
    return IMAP_PARSE_LITERAL;
}

/* Collect line bytes from data[*pos..len) into p->line. Returns true when
 * the line is complete (CRLF at its end), false when the data ran out or
 * (with *too_long set) the line grew past IMAP_LINE_MAX. */
static bool collect_line(struct imap_parser *p, const char *data, size_t len, size_t *pos,
                         bool *too_long)
{
    *too_long = false;
    while (*pos < len) {
        const char *lf = memchr(data + *pos, '\n', len - *pos);
        size_t chunk = lf ? (size_t)(lf - (data + *pos)) + 1 : len - *pos;
        if (p->line.len + chunk > IMAP_LINE_MAX) {
            /* Keep the head (for the tag); the rest is skipped. */
            size_t fit = IMAP_LINE_MAX - p->line.len;
            buf_append(&p->line, data + *pos, fit);
            *pos += fit;
            *too_long = true;
            return false;
        }
        buf_append(&p->line, data + *pos, chunk);
        *pos += chunk;
        if (lf && p->line.len >= 2 && p->line.data[p->line.len - 2] == '\r')
            return true;
    }
    return false;
}

/* Skip octets up to the next CRLF, keeping the line's end in p->tail.
 * Returns true once the CRLF was passed. */
static bool skip_line(struct imap_parser *p, const char *data, size_t len, size_t *pos)
{
    while (*pos < len) {
        const char *lf = memchr(data + *pos, '\n', len - *pos);
        size_t chunk = lf ? (size_t)(lf - (data + *pos)) + 1 : len - *pos;
        bool crlf = lf && (chunk >= 2 ? data[*pos + chunk - 2] == '\r' : p->tail_cr);
        tail_push(p, data + *pos, chunk);
        p->tail_cr = data[*pos + chunk - 1] == '\r';
        *pos += chunk;
        if (crlf)
            return true;
    }
    return false;
}

/* Move what the line buffer holds into the tail, to go on skipping. */
static void line_to_tail(struct imap_parser *p)
{
    p->tail_len = 0;
    p->tail_cut = false;
    p->tail_cr = false;
    if (p->line.len) {
        tail_push(p, p->line.data, p->line.len);
        p->tail_cr = p->line.data[p->line.len - 1] == '\r';
    }
    buf_reset(&p->line);
}

/* One step of reading; returns an event or STEP_GO_ON. */
static int step(struct imap_parser *p, const char *data, size_t len, size_t *pos)
{
    bool too_long;
    switch (p->phase) {
    case PH_LINE:
        if (*pos >= len)
            return IMAP_PARSE_NEED_MORE;
        p->in_command = true;
        if (collect_line(p, data, len, pos, &too_long))
            return line_done(p);
        if (too_long) {
            p->error = "Line too long";
            grab_tag(p, p->line.data, p->line.len);
            line_to_tail(p);
            p->phase = PH_DISCARD_LINE;
            return STEP_GO_ON;
        }
        return IMAP_PARSE_NEED_MORE;

    case PH_RAW_LINE:
        if (*pos >= len)
            return IMAP_PARSE_NEED_MORE;
        if (collect_line(p, data, len, pos, &too_long)) {
            p->phase = PH_LINE;
            p->reset_pending = true;
            size_t n = p->line.len - 2;
            const char *s = buf_cstr(&p->line);
            if (memchr(s, '\r', n) || memchr(s, '\n', n) || memchr(s, '\0', n)) {
                p->error = "Line holds a bare CR, LF or NUL";
                return IMAP_PARSE_ERROR;
            }
            buf_truncate(&p->line, n); /* drop the CRLF, keep the terminator */
            return IMAP_PARSE_LINE;
        }
        if (too_long) {
            line_to_tail(p);
            p->phase = PH_RAW_DISCARD;
            return STEP_GO_ON;
        }
        return IMAP_PARSE_NEED_MORE;

    case PH_RAW_DISCARD:
        if (!skip_line(p, data, len, pos))
            return IMAP_PARSE_NEED_MORE;
        p->phase = PH_LINE;
        p->reset_pending = true;
        p->error = "Line too long";
        return IMAP_PARSE_ERROR;

    case PH_DISCARD_LINE:
        if (!skip_line(p, data, len, pos))
            return IMAP_PARSE_NEED_MORE;
        /* The tail ends with CRLF. */
        return fail_line(p, p->error, p->tail, p->tail_len >= 2 ? p->tail_len - 2 : 0, p->tail_cut);

    case PH_DISCARD_LITERAL: {
        size_t take = len - *pos;
        if (take > p->left)
            take = (size_t)p->left;
        *pos += take;
        p->left -= take;
        if (p->left > 0)
            return IMAP_PARSE_NEED_MORE;
        p->tail_len = 0;
        p->tail_cut = false;
        p->tail_cr = false;
        p->phase = PH_DISCARD_LINE;
        return STEP_GO_ON;
    }

    case PH_LITERAL: {
        size_t take = len - *pos;
        if (take > p->left)
            take = (size_t)p->left;
        if (take && buf_append(&p->strings, data + *pos, take) != 0) {
            p->error = "Command too long";
            p->phase = PH_FATAL;
            return IMAP_PARSE_FATAL;
        }
        *pos += take;
        p->left -= take;
        if (p->left > 0)
            return IMAP_PARSE_NEED_MORE;
        if (buf_append_char(&p->strings, '\0') != 0) {
            p->error = "Command too long";
            p->phase = PH_FATAL;
            return IMAP_PARSE_FATAL;
        }
        p->phase = PH_LINE;
        return STEP_GO_ON;
    }

    case PH_LITERAL_STREAM: {
        size_t take = len - *pos;
        if (take > p->left)
            take = (size_t)p->left;
        if (take == 0 && p->left > 0)
            return IMAP_PARSE_NEED_MORE;
        p->chunk = data + *pos;
        p->chunk_len = take;
        *pos += take;
        p->left -= take;
        p->chunk_last = p->left == 0;
        if (p->chunk_last)
            p->phase = PH_LINE;
        return IMAP_PARSE_LITERAL_DATA;
    }

    case PH_LITERAL_WAIT:
        p->error = "Literal neither accepted nor refused";
        p->phase = PH_FATAL;
        return IMAP_PARSE_FATAL;

    case PH_FATAL:
        return IMAP_PARSE_FATAL;
    }
    return IMAP_PARSE_FATAL;
}

enum imap_parse_status imap_parser_feed(struct imap_parser *p, const char *data, size_t len,
                                        size_t *consumed_r)
{
    size_t pos = 0;
    if (p->reset_pending && p->phase != PH_FATAL)
        reset_command(p);
    int r;
    do
        r = step(p, data, len, &pos);
    while (r == STEP_GO_ON);
    *consumed_r = pos;
    return (enum imap_parse_status)r;
}

const struct imap_command *imap_parser_command(const struct imap_parser *p)
{
    return &p->command;
}

const char *imap_parser_error(const struct imap_parser *p)
{
    return p->error ? p->error : "Invalid command";
}

const char *imap_parser_tag(const struct imap_parser *p)
{
    return p->tag[0] ? p->tag : "*";
}

const struct imap_literal_info *imap_parser_literal(const struct imap_parser *p)
{
    return &p->literal;
}

void imap_parser_literal_accept(struct imap_parser *p, bool stream)
{
    if (p->phase != PH_LITERAL_WAIT)
        return;
    int id = add_node(p, IMAP_ARG_LITERAL);
    if (id < 0) {
        /* read_literal() checked the room: not reached. */
        p->phase = PH_FATAL;
        p->error = "Too many arguments";
        return;
    }
    struct node *nd = &p->nodes[id];
    nd->nonsync = p->lit_nonsync;
    nd->streamed = stream;
    nd->len = (size_t)p->lit_size;
    nd->str_off = p->strings.len;
    p->literal_used += p->lit_size;
    p->left = p->lit_size;
    p->phase = stream ? PH_LITERAL_STREAM : PH_LITERAL;
    if (stream && buf_append_char(&p->strings, '\0') != 0) {
        p->phase = PH_FATAL;
        p->error = "Command too long";
    }
}

void imap_parser_literal_refuse(struct imap_parser *p)
{
    if (p->phase != PH_LITERAL_WAIT)
        return;
    if (!p->lit_nonsync) {
        p->phase = PH_LINE;
        p->reset_pending = true;
        return;
    }
    p->silent = true;
    p->left = p->lit_size;
    p->phase = PH_DISCARD_LITERAL;
}

const char *imap_parser_literal_data(const struct imap_parser *p, size_t *len_r, bool *last_r)
{
    *len_r = p->chunk_len;
    *last_r = p->chunk_last;
    return p->chunk;
}

int imap_parser_read_line(struct imap_parser *p)
{
    if (p->phase != PH_LINE || (!p->reset_pending && p->in_command))
        return -1;
    if (p->reset_pending)
        reset_command(p);
    p->phase = PH_RAW_LINE;
    return 0;
}

const char *imap_parser_line(const struct imap_parser *p, size_t *len_r)
{
    if (len_r)
        *len_r = p->line.len;
    return buf_cstr(&p->line);
}

bool imap_parser_busy(const struct imap_parser *p)
{
    return p->in_command && !p->reset_pending;
}

const char *imap_arg_astring(const struct imap_arg *a, size_t *len_r)
{
    if (a->type == IMAP_ARG_LIST || a->has_section || a->literal_streamed)
        return NULL;
    if (len_r)
        *len_r = a->len;
    return a->str;
}

const char *imap_arg_string(const struct imap_arg *a, size_t *len_r)
{
    if ((a->type != IMAP_ARG_QUOTED && a->type != IMAP_ARG_LITERAL) || a->literal_streamed)
        return NULL;
    if (len_r)
        *len_r = a->len;
    return a->str;
}

const char *imap_arg_atom(const struct imap_arg *a)
{
    if ((a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_NIL) || a->has_section)
        return NULL;
    return a->str;
}

bool imap_arg_atom_is(const struct imap_arg *a, const char *word)
{
    const char *s = imap_arg_atom(a);
    return s != NULL && str_eq_ci(s, word);
}
