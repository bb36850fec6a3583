#include "imap-fetch-parse.h"

#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "lib/xalloc.h"

/* Free an array of n copied strings. */
static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void imap_fetch_free(struct imap_fetch *f)
{
    for (size_t i = 0; i < f->count; i++)
        free_strings(f->items[i].fields, f->items[i].field_count);
    free(f->items);
    memset(f, 0, sizeof(*f));
}

/* Add a plain item. Returns the item, or NULL past IMAP_FETCH_ITEMS_MAX. */
static struct imap_fetch_item *add_item(struct imap_fetch *f, enum imap_fetch_type type)
{
    if (f->count >= IMAP_FETCH_ITEMS_MAX)
        return NULL;
    struct imap_fetch_item *it = &f->items[f->count++];
    memset(it, 0, sizeof(*it));
    it->type = type;
    if (type == IMAP_FETCH_RFC822 || type == IMAP_FETCH_RFC822_TEXT)
        f->sets_seen = true;
    return it;
}

/* Parse a decimal number of at most max into *out: 0 or -1. leading_zero
 * allows "0" and "007" (number), otherwise the first digit is 1-9. */
static int parse_num(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    unsigned long long v;
    if (n == 0 || str_to_u64(s, n, max, &v) != 0)
        return -1;
    *out = v;
    return 0;
}

/* Whether c may be in a header field name we accept (an atom character
 * other than ':', so that the name can be echoed unquoted). */
static bool field_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != ':' && strchr("(){%*\"\\]", c) == NULL;
}

/* The text after the part numbers of a section. */
static const char *parse_section_text(struct imap_fetch_item *it, const char *s)
{
    static const struct {
        const char *name;
        enum imap_section_kind kind;
    } kinds[] = {
        {"HEADER", IMAP_SECTION_HEADER},
        {"HEADER.FIELDS", IMAP_SECTION_HEADER_FIELDS},
        {"HEADER.FIELDS.NOT", IMAP_SECTION_HEADER_FIELDS_NOT},
        {"TEXT", IMAP_SECTION_TEXT},
        {"MIME", IMAP_SECTION_MIME},
    };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (str_eq_ci(s, kinds[i].name)) {
            it->kind = kinds[i].kind;
            if (it->kind == IMAP_SECTION_MIME && it->part_count == 0)
                return "MIME needs a part number";
            return NULL;
        }
    }
    return "Invalid section";
}

/* Fill a section item from the arguments between the brackets. */
static const char *parse_section(struct imap_fetch_item *it, const struct imap_arg *sec, size_t n)
{
    it->kind = IMAP_SECTION_WHOLE;
    if (n == 0)
        return NULL;
    const char *s = imap_arg_atom(&sec[0]);
    if (!s)
        return "Invalid section";
    /* Part numbers: nz-number separated by dots. */
    while (*s >= '0' && *s <= '9') {
        const char *dot = strchr(s, '.');
        size_t len = dot ? (size_t)(dot - s) : strlen(s);
        uint64_t v;
        if (s[0] == '0' || parse_num(s, len, UINT32_MAX, &v) != 0)
            return "Invalid section part number";
        if (it->part_count >= IMAP_SECTION_DEPTH_MAX)
            return "Section part path too deep";
        it->part[it->part_count++] = (uint32_t)v;
        if (!dot) {
            s += len;
            break;
        }
        s = dot + 1;
        if (*s == '\0')
            return "Invalid section";
    }
    if (*s != '\0') {
        const char *e = parse_section_text(it, s);
        if (e)
            return e;
    }
    bool want_list =
        it->kind == IMAP_SECTION_HEADER_FIELDS || it->kind == IMAP_SECTION_HEADER_FIELDS_NOT;
    if (!want_list)
        return n == 1 ? NULL : "Invalid section";
    if (n != 2 || sec[1].type != IMAP_ARG_LIST || sec[1].count == 0)
        return "HEADER.FIELDS needs a list of header names";
    if (sec[1].count > IMAP_FETCH_FIELDS_MAX)
        return "Too many header names";
    it->fields = xcalloc(sec[1].count, sizeof(char *));
    for (size_t i = 0; i < sec[1].count; i++) {
        size_t len;
        const char *name = imap_arg_astring(&sec[1].list[i], &len);
        if (!name || len == 0 || len > IMAP_FIELD_NAME_MAX)
            return "Invalid header name";
        for (size_t k = 0; k < len; k++)
            if (!field_char((unsigned char)name[k]))
                return "Invalid header name";
        it->fields[it->field_count++] = xstrndup(name, len);
    }
    return NULL;
}

/* "origin.length" of a partial. */
static const char *parse_partial(struct imap_fetch_item *it, const char *p)
{
    const char *dot = strchr(p, '.');
    uint64_t origin, length;
    if (!dot || parse_num(p, (size_t)(dot - p), UINT32_MAX, &origin) != 0 ||
        parse_num(dot + 1, strlen(dot + 1), UINT32_MAX, &length) != 0 || length == 0)
        return "Invalid partial range";
    it->has_partial = true;
    it->partial_origin = (uint32_t)origin;
    it->partial_length = (uint32_t)length;
    return NULL;
}

/* One fetch-att (not a macro). */
static const char *parse_item(struct imap_fetch *f, const struct imap_arg *a)
{
    static const struct {
        const char *name;
        enum imap_fetch_type type;
    } simple[] = {
        {"FLAGS", IMAP_FETCH_FLAGS},
        {"INTERNALDATE", IMAP_FETCH_INTERNALDATE},
        {"RFC822.SIZE", IMAP_FETCH_RFC822_SIZE},
        {"ENVELOPE", IMAP_FETCH_ENVELOPE},
        {"BODY", IMAP_FETCH_BODY},
        {"BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE},
        {"UID", IMAP_FETCH_UID},
        {"RFC822", IMAP_FETCH_RFC822},
        {"RFC822.HEADER", IMAP_FETCH_RFC822_HEADER},
        {"RFC822.TEXT", IMAP_FETCH_RFC822_TEXT},
        {"MODSEQ", IMAP_FETCH_MODSEQ},
    };
    if (a->type != IMAP_ARG_ATOM)
        return "Invalid FETCH item";
    if (!a->has_section) {
        if (a->partial)
            return "Invalid FETCH item";
        for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
            if (str_eq_ci(a->str, simple[i].name))
                return add_item(f, simple[i].type) ? NULL : "Too many FETCH items";
        return "Unknown FETCH item";
    }
    bool peek;
    if (str_eq_ci(a->str, "BODY"))
        peek = false;
    else if (str_eq_ci(a->str, "BODY.PEEK"))
        peek = true;
    else
        return "Unknown FETCH item";
    struct imap_fetch_item *it = add_item(f, IMAP_FETCH_SECTION);
    if (!it)
        return "Too many FETCH items";
    it->peek = peek;
    if (!peek)
        f->sets_seen = true;
    const char *e = parse_section(it, a->section, a->section_count);
    if (!e && a->partial)
        e = parse_partial(it, a->partial);
    return e;
}

/* The modifier list: (CHANGEDSINCE n). */
static const char *parse_modifiers(struct imap_fetch *f, const struct imap_arg *a)
{
    if (a->type != IMAP_ARG_LIST || a->count == 0)
        return "Invalid FETCH modifiers";
    for (size_t i = 0; i < a->count; i += 2) {
        if (!imap_arg_atom_is(&a->list[i], "CHANGEDSINCE"))
            return "Unknown FETCH modifier";
        if (f->has_changedsince)
            return "CHANGEDSINCE given twice";
        const char *v = i + 1 < a->count ? imap_arg_atom(&a->list[i + 1]) : NULL;
        if (!v || parse_num(v, strlen(v), IMAP_MODSEQ_MAX, &f->changedsince) != 0 ||
            f->changedsince == 0)
            return "Invalid CHANGEDSINCE value";
        f->has_changedsince = true;
    }
    return NULL;
}

/* Expand ALL, FAST or FULL; false if a is none of them. */
static bool add_macro(struct imap_fetch *f, const struct imap_arg *a)
{
    int n;
    if (imap_arg_atom_is(a, "FAST"))
        n = 3;
    else if (imap_arg_atom_is(a, "ALL"))
        n = 4;
    else if (imap_arg_atom_is(a, "FULL"))
        n = 5;
    else
        return false;
    static const enum imap_fetch_type order[] = {IMAP_FETCH_FLAGS, IMAP_FETCH_INTERNALDATE,
                                                 IMAP_FETCH_RFC822_SIZE, IMAP_FETCH_ENVELOPE,
                                                 IMAP_FETCH_BODY};
    for (int i = 0; i < n; i++)
        add_item(f, order[i]);
    return true;
}

int imap_fetch_parse(const struct imap_arg *args, size_t count, struct imap_fetch *out,
                     const char **error_r)
{
    memset(out, 0, sizeof(*out));
    const char *e = NULL;
    if (count == 0 || count > 2) {
        *error_r = count == 0 ? "Missing FETCH items" : "Too many FETCH arguments";
        return -1;
    }
    out->items = xcalloc(IMAP_FETCH_ITEMS_MAX, sizeof(*out->items));
    if (args[0].type == IMAP_ARG_LIST) {
        if (args[0].count == 0)
            e = "Empty FETCH item list";
        for (size_t i = 0; !e && i < args[0].count; i++)
            e = parse_item(out, &args[0].list[i]);
    } else if (!add_macro(out, &args[0])) {
        e = parse_item(out, &args[0]);
    }
    if (!e && count == 2)
        e = parse_modifiers(out, &args[1]);
    if (e) {
        imap_fetch_free(out);
        *error_r = e;
        return -1;
    }
    return 0;
}

int imap_fetch_item_write_name(const struct imap_fetch_item *it, struct buf *out)
{
    static const char *const names[] = {
        [IMAP_FETCH_FLAGS] = "FLAGS",
        [IMAP_FETCH_INTERNALDATE] = "INTERNALDATE",
        [IMAP_FETCH_RFC822_SIZE] = "RFC822.SIZE",
        [IMAP_FETCH_ENVELOPE] = "ENVELOPE",
        [IMAP_FETCH_BODY] = "BODY",
        [IMAP_FETCH_BODYSTRUCTURE] = "BODYSTRUCTURE",
        [IMAP_FETCH_UID] = "UID",
        [IMAP_FETCH_RFC822] = "RFC822",
        [IMAP_FETCH_RFC822_HEADER] = "RFC822.HEADER",
        [IMAP_FETCH_RFC822_TEXT] = "RFC822.TEXT",
        [IMAP_FETCH_MODSEQ] = "MODSEQ",
    };
    static const char *const kinds[] = {
        [IMAP_SECTION_WHOLE] = "",
        [IMAP_SECTION_HEADER] = "HEADER",
        [IMAP_SECTION_HEADER_FIELDS] = "HEADER.FIELDS",
        [IMAP_SECTION_HEADER_FIELDS_NOT] = "HEADER.FIELDS.NOT",
        [IMAP_SECTION_TEXT] = "TEXT",
        [IMAP_SECTION_MIME] = "MIME",
    };
    if (it->type != IMAP_FETCH_SECTION)
        return buf_append_str(out, names[it->type]);
    if (buf_append_str(out, "BODY[") != 0)
        return -1;
    for (size_t i = 0; i < it->part_count; i++)
        if (buf_printf(out, i ? ".%u" : "%u", it->part[i]) != 0)
            return -1;
    if (it->kind != IMAP_SECTION_WHOLE &&
        buf_printf(out, "%s%s", it->part_count ? "." : "", kinds[it->kind]) != 0)
        return -1;
    if (it->field_count) {
        for (size_t i = 0; i < it->field_count; i++)
            if (buf_append_str(out, i ? " " : " (") != 0 || buf_append_str(out, it->fields[i]))
                return -1;
        if (buf_append_char(out, ')') != 0)
            return -1;
    }
    if (buf_append_char(out, ']') != 0)
        return -1;
    if (it->has_partial && buf_printf(out, "<%u>", it->partial_origin) != 0)
        return -1;
    return 0;
}

void imap_store_free(struct imap_store *s)
{
    free_strings(s->flags, s->flag_count);
    memset(s, 0, sizeof(*s));
}

const char *imap_flag_check(const char *flag, size_t len, const char **error_r)
{
    static const char *const system[] = {"\\Answered", "\\Flagged", "\\Deleted", "\\Seen",
                                         "\\Draft"};
    if (len == 0 || len > IMAP_FLAG_MAX) {
        *error_r = "Invalid flag";
        return NULL;
    }
    if (flag[0] == '\\') {
        for (size_t i = 0; i < sizeof(system) / sizeof(system[0]); i++)
            if (strlen(system[i]) == len && str_eqn_ci(flag, system[i], len))
                return system[i];
        *error_r = len == 7 && str_eqn_ci(flag, "\\Recent", 7) ? "\\Recent cannot be set"
                                                               : "Invalid system flag";
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)flag[i];
        if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL) {
            *error_r = "Invalid keyword";
            return NULL;
        }
    }
    return flag;
}

/* Add one flag argument to the store. */
static const char *add_flag(struct imap_store *s, const struct imap_arg *a)
{
    const char *f = imap_arg_atom(a);
    if (!f || a->type == IMAP_ARG_NIL)
        return "Invalid flag";
    if (s->flag_count >= IMAP_STORE_FLAGS_MAX)
        return "Too many flags";
    const char *e = NULL;
    const char *canon = imap_flag_check(f, a->len, &e);
    if (!canon)
        return e;
    s->flags[s->flag_count++] = xstrdup(canon);
    return NULL;
}

/* The STORE item name: [+-]FLAGS[.SILENT]. */
static const char *parse_store_item(struct imap_store *s, const char *name)
{
    if (*name == '+') {
        s->op = IMAP_STORE_ADD;
        name++;
    } else if (*name == '-') {
        s->op = IMAP_STORE_REMOVE;
        name++;
    } else {
        s->op = IMAP_STORE_REPLACE;
    }
    if (str_eq_ci(name, "FLAGS"))
        return NULL;
    if (str_eq_ci(name, "FLAGS.SILENT")) {
        s->silent = true;
        return NULL;
    }
    return "Invalid STORE item";
}

/* The STORE arguments, into a zeroed *s. */
static const char *store_parse(const struct imap_arg *args, size_t count, struct imap_store *s)
{
    size_t i = 0;
    if (count > 0 && args[0].type == IMAP_ARG_LIST) {
        const struct imap_arg *m = &args[0];
        if (m->count != 2 || !imap_arg_atom_is(&m->list[0], "UNCHANGEDSINCE"))
            return "Invalid STORE modifier";
        const char *v = imap_arg_atom(&m->list[1]);
        if (!v || parse_num(v, strlen(v), IMAP_MODSEQ_MAX, &s->unchangedsince) != 0)
            return "Invalid UNCHANGEDSINCE value";
        s->has_unchangedsince = true;
        i = 1;
    }
    if (i >= count)
        return "Missing STORE item";
    const char *name = imap_arg_atom(&args[i]);
    if (!name)
        return "Invalid STORE item";
    const char *e = parse_store_item(s, name);
    if (e)
        return e;
    i++;
    if (i >= count)
        return "Missing flags";
    size_t n = args[i].type == IMAP_ARG_LIST ? args[i].count : count - i;
    if (args[i].type == IMAP_ARG_LIST && i + 1 != count)
        return "Too many STORE arguments";
    if (n > IMAP_STORE_FLAGS_MAX)
        return "Too many flags";
    s->flags = xcalloc(n ? n : 1, sizeof(char *));
    const struct imap_arg *flags = args[i].type == IMAP_ARG_LIST ? args[i].list : &args[i];
    for (size_t k = 0; k < n; k++)
        if ((e = add_flag(s, &flags[k])) != NULL)
            return e;
    return NULL;
}

int imap_store_parse(const struct imap_arg *args, size_t count, struct imap_store *out,
                     const char **error_r)
{
    memset(out, 0, sizeof(*out));
    const char *e = store_parse(args, count, out);
    if (e) {
        imap_store_free(out);
        *error_r = e;
        return -1;
    }
    return 0;
}
