#include "mime-addrlist.h"

#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "mime-rfc822.h"

struct ctx {
    struct mime_lexer lx;
    struct mime_addrlist *list;
    struct mime_addr addr; /* being built */
    struct buf str;
    struct buf comment;
};

static bool at_end(const struct ctx *c)
{
    return c->lx.data >= c->lx.end;
}

static unsigned char cur(const struct ctx *c)
{
    return at_end(c) ? '\0' : *c->lx.data;
}

static void set(char **slot, const char *s)
{
    free(*slot);
    *slot = s ? xstrdup(s) : NULL;
}

/* Append the address being built and start a new one. */
static void add_address(struct ctx *c)
{
    struct mime_addrlist *l = c->list;
    if (l->n >= MIME_ADDRLIST_MAX) {
        free(c->addr.name);
        free(c->addr.route);
        free(c->addr.mailbox);
        free(c->addr.domain);
    } else {
        if (l->n == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 4;
            l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
        }
        l->v[l->n++] = c->addr;
    }
    memset(&c->addr, 0, sizeof(c->addr));
}

static int parse_local_part(struct ctx *c)
{
    buf_reset(&c->str);
    int ret = cur(c) == '"' ? mime_lex_quoted(&c->lx, &c->str) : mime_lex_dot_atom(&c->lx, &c->str);
    if (ret < 0)
        return -1;
    set(&c->addr.mailbox, buf_cstr(&c->str));
    return ret;
}

static int parse_domain(struct ctx *c)
{
    buf_reset(&c->str);
    int ret = mime_lex_domain(&c->lx, &c->str);
    if (ret < 0)
        return -1;
    set(&c->addr.domain, buf_cstr(&c->str));
    return ret;
}

/* obs-domain-list = "@" domain *(*(CFWS / ",") [CFWS] "@" domain) */
static int parse_domain_list(struct ctx *c)
{
    buf_reset(&c->str);
    for (;;) {
        if (at_end(c))
            return 0;
        if (cur(c) != '@')
            break;
        if (c->str.len > 0 && buf_append_char(&c->str, ',') < 0)
            return -1;
        if (buf_append_char(&c->str, '@') < 0)
            return -1;
        int ret = mime_lex_domain(&c->lx, &c->str);
        if (ret <= 0)
            return ret;
        while (mime_lex_skip_lwsp(&c->lx) > 0 && cur(c) == ',')
            c->lx.data++;
    }
    set(&c->addr.route, buf_cstr(&c->str));
    return 1;
}

/* "<" [ "@" route ":" ] local-part "@" domain ">" */
static int parse_angle_addr(struct ctx *c)
{
    c->lx.data++;
    if (mime_lex_skip_lwsp(&c->lx) <= 0)
        return -1;
    if (cur(c) == '@') {
        if (parse_domain_list(c) > 0 && cur(c) == ':') {
            c->lx.data++;
        } else {
            set(&c->addr.route, "INVALID_ROUTE");
            if (at_end(c))
                return -1;
        }
        if (mime_lex_skip_lwsp(&c->lx) <= 0)
            return -1;
    }
    if (cur(c) != '>') {
        if (parse_local_part(c) <= 0)
            return -1;
        if (cur(c) == '@' && parse_domain(c) <= 0)
            return -1;
    }
    if (cur(c) != '>')
        return -1;
    c->lx.data++;
    return mime_lex_skip_lwsp(&c->lx);
}

/* name-addr = [display-name] angle-addr */
static int parse_name_addr(struct ctx *c)
{
    buf_reset(&c->str);
    if (mime_lex_phrase(&c->lx, &c->str) <= 0 || cur(c) != '<')
        return -1;
    set(&c->addr.name, c->str.len ? buf_cstr(&c->str) : NULL);
    if (parse_angle_addr(c) < 0) {
        set(&c->addr.domain, "SYNTAX_ERROR");
        c->addr.invalid = true;
    }
    return at_end(c) ? 0 : 1;
}

/* addr-spec = local-part "@" domain, with the fallbacks of the header. */
static int parse_addr_spec(struct ctx *c)
{
    int ret, ret2 = -2;
    buf_reset(&c->comment);
    bool quoted = cur(c) == '"';
    ret = parse_local_part(c);
    if (ret <= 0)
        c->addr.invalid = true;
    if (ret != 0 && cur(c) == '@') {
        ret2 = parse_domain(c);
        if (ret2 <= 0)
            ret = ret2;
    }
    if (c->comment.len > 0) {
        set(&c->addr.name, buf_cstr(&c->comment));
    } else if (ret2 == -2) {
        /* "user" alone is a mailbox; "user more words" is a name */
        if (buf_append_char(&c->str, ' ') == 0) {
            size_t before = c->str.len;
            (void)mime_lex_phrase(&c->lx, &c->str);
            if (c->str.len != before) {
                set(&c->addr.mailbox, NULL);
                set(&c->addr.name, buf_cstr(&c->str));
            } else if (!quoted) {
                set(&c->addr.domain, "");
            }
        }
        c->addr.invalid = true;
        ret = -1;
    }
    return ret;
}

static void add_fixed_address(struct ctx *c)
{
    if (!c->addr.mailbox) {
        set(&c->addr.mailbox, "MISSING_MAILBOX");
        c->addr.invalid = true;
    }
    if (!c->addr.domain || c->addr.domain[0] == '\0') {
        set(&c->addr.domain, "MISSING_DOMAIN");
        c->addr.invalid = true;
    }
    add_address(c);
}

static int parse_mailbox(struct ctx *c)
{
    const unsigned char *start = c->lx.data;
    int ret = parse_name_addr(c);
    if (ret < 0) {
        c->lx.data = start;
        set(&c->addr.name, NULL);
        set(&c->addr.route, NULL);
        set(&c->addr.mailbox, NULL);
        set(&c->addr.domain, NULL);
        ret = parse_addr_spec(c);
        if (c->addr.invalid && !c->addr.name && c->addr.mailbox && !c->addr.domain) {
            c->addr.name = c->addr.mailbox;
            c->addr.mailbox = NULL;
        }
    }
    if (ret < 0)
        c->addr.invalid = true;
    add_fixed_address(c);
    return ret;
}

/* group = display-name ":" [mailbox-list / CFWS] ";" [CFWS] */
static int parse_group(struct ctx *c)
{
    buf_reset(&c->str);
    if (mime_lex_phrase(&c->lx, &c->str) <= 0 || cur(c) != ':')
        return -1;
    c->lx.data++;
    int ret = mime_lex_skip_lwsp(&c->lx);
    if (ret <= 0)
        c->addr.invalid = true;
    set(&c->addr.mailbox, buf_cstr(&c->str));
    add_address(c);

    if (ret > 0 && cur(c) != ';') {
        for (size_t guard = 0; guard < MIME_ADDRLIST_MAX; guard++) {
            (void)parse_mailbox(c);
            if (at_end(c) || cur(c) != ',')
                break;
            c->lx.data++;
            if (mime_lex_skip_lwsp(&c->lx) <= 0) {
                ret = -1;
                break;
            }
        }
    }
    if (ret >= 0) {
        if (at_end(c) || cur(c) != ';') {
            ret = -1;
        } else {
            c->lx.data++;
            ret = mime_lex_skip_lwsp(&c->lx);
        }
    }
    if (ret < 0)
        c->addr.invalid = true;
    add_address(c);
    return ret == 0 ? 0 : 1;
}

static int parse_address(struct ctx *c)
{
    const unsigned char *start = c->lx.data;
    int ret = parse_group(c);
    if (ret < 0) {
        c->lx.data = start;
        memset(&c->addr, 0, sizeof(c->addr));
        ret = parse_mailbox(c);
    }
    return ret;
}

void mime_addrlist_parse(struct mime_addrlist *list, const char *value, size_t len)
{
    struct ctx c;
    memset(&c, 0, sizeof(c));
    c.list = list;
    buf_init(&c.str, MIME_ADDRLIST_WORD_MAX);
    buf_init(&c.comment, MIME_ADDRLIST_WORD_MAX);
    mime_lexer_init(&c.lx, value, len, &c.comment);
    if (mime_lex_skip_lwsp(&c.lx) > 0) {
        for (size_t i = 0; i < MIME_ADDRLIST_MAX; i++) {
            if (parse_address(&c) == 0)
                break;
            if (at_end(&c) || cur(&c) != ',')
                break;
            c.lx.data++;
            int ret = mime_lex_skip_lwsp(&c.lx);
            if (ret <= 0) {
                if (ret < 0)
                    add_fixed_address(&c);
                break;
            }
        }
    }
    free(c.addr.name);
    free(c.addr.route);
    free(c.addr.mailbox);
    free(c.addr.domain);
    buf_free(&c.str);
    buf_free(&c.comment);
}

void mime_addrlist_free(struct mime_addrlist *list)
{
    for (size_t i = 0; i < list->n; i++) {
        free(list->v[i].name);
        free(list->v[i].route);
        free(list->v[i].mailbox);
        free(list->v[i].domain);
    }
    free(list->v);
    memset(list, 0, sizeof(*list));
}
