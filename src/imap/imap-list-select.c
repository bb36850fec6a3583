/* imap-list-select: choosing the names of a LIST or LSUB answer (see
 * imap-list-select.h). */
#include <stdlib.h>
#include <string.h>

#include "imap/imap-list-match.h"
#include "imap/imap-list-select.h"
#include "imap/imap-quote.h"
#include "lib/str.h"
#include "lib/xalloc.h"

/* Internal marks on entries, above every STORE_ATTR_*. */
#define MARK_SYNTH       0x10000000u /* an ancestor added here: no store entry */
#define MARK_LSUB_PARENT 0x20000000u /* LSUB's unsubscribed "%" parent */
#define MARKS            (MARK_SYNTH | MARK_LSUB_PARENT)

#define SEP '.'

struct names {
    struct imap_list_entry *v;
    size_t n, cap;
};

static int names_add(struct names *l, const char *name, unsigned attrs)
{
    if (l->n >= IMAP_LIST_NAMES_MAX)
        return -1;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    struct imap_list_entry *e = &l->v[l->n++];
    memset(e, 0, sizeof(*e));
    str_copy(e->name, sizeof(e->name), name);
    e->attrs = attrs;
    return 0;
}

static int by_octets(const void *a, const void *b)
{
    return strcmp(((const struct imap_list_entry *)a)->name,
                  ((const struct imap_list_entry *)b)->name);
}

/* store_folder_list()'s order: INBOX first. */
static int by_listing(const void *a, const void *b)
{
    const struct imap_list_entry *x = a, *y = b;
    bool xi = strcmp(x->name, "INBOX") == 0, yi = strcmp(y->name, "INBOX") == 0;
    if (xi != yi)
        return xi ? -1 : 1;
    return strcmp(x->name, y->name);
}

static struct imap_list_entry *names_find(struct names *l, const char *name)
{
    struct imap_list_entry key;
    if (str_copy(key.name, sizeof(key.name), name) < 0)
        return NULL;
    return bsearch(&key, l->v, l->n, sizeof(*l->v), by_octets);
}

/* Sort by octets and merge duplicates: a store entry wins over an
 * ancestor added here. */
static void names_sort_unique(struct names *l)
{
    if (l->n == 0)
        return;
    qsort(l->v, l->n, sizeof(*l->v), by_octets);
    size_t k = 0;
    for (size_t i = 1; i < l->n; i++) {
        if (strcmp(l->v[i].name, l->v[k].name) != 0) {
            l->v[++k] = l->v[i];
            continue;
        }
        if ((l->v[k].attrs & MARK_SYNTH) && !(l->v[i].attrs & MARK_SYNTH))
            l->v[k] = l->v[i];
    }
    l->n = k + 1;
}

/* Add every proper ancestor of name ("a" and "a.b" for "a.b.c"). */
static int add_ancestors(struct names *l, const char *name)
{
    char buf[STORE_FOLDER_NAME_MAX + 1];
    str_copy(buf, sizeof(buf), name);
    char *dot;
    while ((dot = strrchr(buf, SEP)) != NULL) {
        *dot = '\0';
        if (names_add(l, buf, MARK_SYNTH | STORE_ATTR_NONEXISTENT | STORE_ATTR_NOSELECT) < 0)
            return -1;
    }
    return 0;
}

/* Does the entry meet LIST's selection? */
static bool selected(const struct imap_list_entry *e, unsigned sel)
{
    if (e->attrs & MARK_SYNTH)
        return false;
    if (!(sel & (IMAP_LIST_SEL_SUBSCRIBED | IMAP_LIST_SEL_SPECIAL_USE)))
        return !(e->attrs & STORE_ATTR_NONEXISTENT);
    if ((sel & IMAP_LIST_SEL_SUBSCRIBED) && !(e->attrs & STORE_ATTR_SUBSCRIBED))
        return false;
    if ((sel & IMAP_LIST_SEL_SPECIAL_USE) &&
        (!(e->attrs & STORE_ATTR_SPECIAL_USE) || (e->attrs & STORE_ATTR_NOSELECT)))
        return false;
    return true;
}

static bool matches(char *const *patterns, size_t np, const char *name)
{
    for (size_t i = 0; i < np; i++)
        if (imap_list_match(patterns[i], name, SEP))
            return true;
    return false;
}

/* Mark the ancestors of every entry meeting the selection (CHILDINFO). */
static void mark_childinfo(struct names *l, unsigned sel)
{
    unsigned info = sel & (IMAP_LIST_SEL_SUBSCRIBED | IMAP_LIST_SEL_SPECIAL_USE);
    for (size_t i = 0; i < l->n; i++) {
        if (!selected(&l->v[i], sel))
            continue;
        char buf[STORE_FOLDER_NAME_MAX + 1];
        str_copy(buf, sizeof(buf), l->v[i].name);
        char *dot;
        while ((dot = strrchr(buf, SEP)) != NULL) {
            *dot = '\0';
            struct imap_list_entry *a = names_find(l, buf);
            if (a)
                a->childinfo |= info;
        }
    }
}

/* LSUB's "%" rule: an unsubscribed ancestor that matches while its
 * subscribed descendant does not. */
static void mark_lsub_parents(struct names *l, char *const *patterns, size_t np)
{
    for (size_t i = 0; i < l->n; i++) {
        if (!(l->v[i].attrs & STORE_ATTR_SUBSCRIBED) || matches(patterns, np, l->v[i].name))
            continue;
        char buf[STORE_FOLDER_NAME_MAX + 1];
        str_copy(buf, sizeof(buf), l->v[i].name);
        char *dot;
        while ((dot = strrchr(buf, SEP)) != NULL) {
            *dot = '\0';
            struct imap_list_entry *a = names_find(l, buf);
            if (a && !(a->attrs & STORE_ATTR_SUBSCRIBED) && matches(patterns, np, a->name))
                a->attrs |= MARK_LSUB_PARENT;
        }
    }
}

int imap_list_select(const struct store_folder_info *folders, size_t n,
                     const struct imap_list_args *args, bool lsub, struct imap_list_entry **out_r,
                     size_t *count_r)
{
    *out_r = NULL;
    *count_r = 0;
    bool recursive = !lsub && (args->select & IMAP_LIST_SEL_RECURSIVEMATCH);
    char *patterns[IMAP_LIST_PATTERNS_MAX];
    size_t np = 0;
    struct names l = {0};
    int rc = -1;
    for (size_t i = 0; i < args->n_patterns && i < IMAP_LIST_PATTERNS_MAX; i++) {
        patterns[np] = xmalloc(2 * IMAP_LIST_PATTERN_MAX + 1);
        if (imap_list_args_join(args->ref, args->patterns[i], patterns[np],
                                2 * IMAP_LIST_PATTERN_MAX + 1) < 0) {
            free(patterns[np]);
            goto out;
        }
        np++;
    }
    for (size_t i = 0; i < n; i++)
        if (names_add(&l, folders[i].name, folders[i].attrs & ~MARKS) < 0)
            goto out;
    if (lsub || recursive) {
        size_t real = l.n;
        for (size_t i = 0; i < real; i++) {
            bool wanted = lsub ? (l.v[i].attrs & STORE_ATTR_SUBSCRIBED) != 0
                               : selected(&l.v[i], args->select);
            if (wanted && add_ancestors(&l, l.v[i].name) < 0)
                goto out;
        }
    }
    names_sort_unique(&l);
    if (recursive)
        mark_childinfo(&l, args->select);
    if (lsub)
        mark_lsub_parents(&l, patterns, np);
    size_t k = 0;
    for (size_t i = 0; i < l.n; i++) {
        struct imap_list_entry *e = &l.v[i];
        bool take;
        if (lsub)
            take = (e->attrs & (STORE_ATTR_SUBSCRIBED | MARK_LSUB_PARENT)) != 0;
        else
            take = selected(e, args->select) || (recursive && e->childinfo);
        if (!take || !matches(patterns, np, e->name))
            continue;
        if (lsub && (e->attrs & MARK_LSUB_PARENT))
            e->attrs = STORE_ATTR_NOSELECT;
        e->attrs &= ~MARKS;
        l.v[k++] = *e;
    }
    qsort(l.v, k, sizeof(*l.v), by_listing);
    if (k > 0) {
        *out_r = l.v;
        l.v = NULL;
    }
    *count_r = k;
    rc = 0;
out:
    free(l.v);
    for (size_t i = 0; i < np; i++)
        free(patterns[i]);
    return rc;
}

int imap_list_format(const struct imap_list_entry *e, const struct imap_list_args *args, bool lsub,
                     struct buf *out)
{
    static const struct {
        unsigned bit;
        const char *name;
    } special[] = {
        {STORE_ATTR_SENT, "\\Sent"},       {STORE_ATTR_DRAFTS, "\\Drafts"},
        {STORE_ATTR_TRASH, "\\Trash"},     {STORE_ATTR_JUNK, "\\Junk"},
        {STORE_ATTR_ARCHIVE, "\\Archive"},
    };
    const char *attrs[8];
    size_t na = 0;
    unsigned a = e->attrs;
    if (lsub) {
        if (a & STORE_ATTR_NOSELECT)
            attrs[na++] = "\\Noselect";
    } else {
        if (a & STORE_ATTR_NONEXISTENT)
            attrs[na++] = "\\NonExistent";
        else if (a & STORE_ATTR_NOSELECT)
            attrs[na++] = "\\Noselect";
        if (!(a & STORE_ATTR_NONEXISTENT)) {
            if (a & STORE_ATTR_HASCHILDREN)
                attrs[na++] = "\\HasChildren";
            else if (a & STORE_ATTR_HASNOCHILD)
                attrs[na++] = "\\HasNoChildren";
        }
        if ((args->ret & IMAP_LIST_RET_SUBSCRIBED) && (a & STORE_ATTR_SUBSCRIBED))
            attrs[na++] = "\\Subscribed";
        if (!(a & STORE_ATTR_NOSELECT))
            for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
                if (a & special[i].bit) {
                    attrs[na++] = special[i].name;
                    break;
                }
    }
    int rc = buf_append_str(out, lsub ? "LSUB (" : "LIST (");
    for (size_t i = 0; i < na; i++)
        rc |= buf_printf(out, "%s%s", i ? " " : "", attrs[i]);
    rc |= buf_append_str(out, ") \".\" ");
    rc |= imap_quote_string(out, e->name, strlen(e->name));
    if (!lsub && e->childinfo) {
        rc |= buf_append_str(out, " (\"CHILDINFO\" (");
        if (e->childinfo & IMAP_LIST_SEL_SUBSCRIBED)
            rc |= buf_append_str(out, "\"SUBSCRIBED\"");
        if (e->childinfo & IMAP_LIST_SEL_SPECIAL_USE)
            rc |= buf_printf(out, "%s\"SPECIAL-USE\"",
                             (e->childinfo & IMAP_LIST_SEL_SUBSCRIBED) ? " " : "");
        rc |= buf_append_str(out, "))");
    }
    return rc < 0 ? -1 : 0;
}
