/* imap-list-args: reading LIST, LSUB and STATUS arguments (see
 * imap-list-args.h). */
#include <string.h>

#include "imap/imap-list-args.h"
#include "lib/str.h"

/* A reference or pattern: an astring (the parser reads '%' and '*' as
 * atom characters) without NUL, at most IMAP_LIST_PATTERN_MAX octets. */
static const char *pattern_arg(const struct imap_arg *a)
{
    size_t len;
    const char *s = imap_arg_astring(a, &len);
    if (!s || len > IMAP_LIST_PATTERN_MAX || memchr(s, '\0', len))
        return NULL;
    return s;
}

static int selection_options(const struct imap_arg *list, unsigned *sel_r, const char **error_r)
{
    static const struct {
        const char *name;
        unsigned bit;
    } opts[] = {
        {"SUBSCRIBED", IMAP_LIST_SEL_SUBSCRIBED},
        {"REMOTE", IMAP_LIST_SEL_REMOTE},
        {"RECURSIVEMATCH", IMAP_LIST_SEL_RECURSIVEMATCH},
        {"SPECIAL-USE", IMAP_LIST_SEL_SPECIAL_USE},
    };
    unsigned sel = 0;
    for (size_t i = 0; i < list->count; i++) {
        size_t k = 0;
        while (k < sizeof(opts) / sizeof(opts[0]) &&
               !imap_arg_atom_is(&list->list[i], opts[k].name))
            k++;
        if (k == sizeof(opts) / sizeof(opts[0])) {
            *error_r = "Unknown LIST selection option";
            return -1;
        }
        sel |= opts[k].bit;
    }
    /* RFC 5258 3.1: RECURSIVEMATCH needs an option it can recurse on. */
    if ((sel & IMAP_LIST_SEL_RECURSIVEMATCH) &&
        !(sel & (IMAP_LIST_SEL_SUBSCRIBED | IMAP_LIST_SEL_SPECIAL_USE))) {
        *error_r = "RECURSIVEMATCH needs another selection option";
        return -1;
    }
    *sel_r = sel;
    return 0;
}

static int return_options(const struct imap_arg *list, struct imap_list_args *out,
                          const char **error_r)
{
    if (list->type != IMAP_ARG_LIST) {
        *error_r = "RETURN needs a list of options";
        return -1;
    }
    for (size_t i = 0; i < list->count; i++) {
        const struct imap_arg *a = &list->list[i];
        if (imap_arg_atom_is(a, "SUBSCRIBED")) {
            out->ret |= IMAP_LIST_RET_SUBSCRIBED;
        } else if (imap_arg_atom_is(a, "CHILDREN")) {
            out->ret |= IMAP_LIST_RET_CHILDREN;
        } else if (imap_arg_atom_is(a, "SPECIAL-USE")) {
            out->ret |= IMAP_LIST_RET_SPECIAL_USE;
        } else if (imap_arg_atom_is(a, "STATUS") && i + 1 < list->count) {
            unsigned items;
            if (imap_list_args_status(&list->list[++i], &items, error_r) < 0)
                return -1;
            out->ret |= IMAP_LIST_RET_STATUS;
            out->status |= items;
        } else {
            *error_r = "Unknown LIST return option";
            return -1;
        }
    }
    return 0;
}

int imap_list_args_parse(const struct imap_arg *args, size_t count, bool lsub,
                         struct imap_list_args *out, const char **error_r)
{
    memset(out, 0, sizeof(*out));
    size_t i = 0;
    if (!lsub && count > 0 && args[0].type == IMAP_ARG_LIST) {
        out->extended = true;
        if (selection_options(&args[0], &out->select, error_r) < 0)
            return -1;
        i++;
    }
    if (count < i + 2) {
        *error_r = lsub ? "LSUB needs a reference and a mailbox pattern"
                        : "LIST needs a reference and a mailbox pattern";
        return -1;
    }
    out->ref = pattern_arg(&args[i]);
    if (!out->ref) {
        *error_r = "Invalid reference name";
        return -1;
    }
    i++;
    const struct imap_arg *p = &args[i++];
    if (p->type == IMAP_ARG_LIST && !lsub) {
        out->extended = true;
        if (p->count == 0 || p->count > IMAP_LIST_PATTERNS_MAX) {
            *error_r = "Invalid number of mailbox patterns";
            return -1;
        }
        for (size_t k = 0; k < p->count; k++)
            if (!(out->patterns[out->n_patterns++] = pattern_arg(&p->list[k]))) {
                *error_r = "Invalid mailbox pattern";
                return -1;
            }
    } else if ((out->patterns[0] = pattern_arg(p)) != NULL) {
        out->n_patterns = 1;
    } else {
        *error_r = "Invalid mailbox pattern";
        return -1;
    }
    if (!lsub && i + 2 == count && imap_arg_atom_is(&args[i], "RETURN")) {
        out->extended = true;
        if (return_options(&args[i + 1], out, error_r) < 0)
            return -1;
        i += 2;
    }
    if (i != count) {
        *error_r = "Unexpected arguments";
        return -1;
    }
    if (out->select & IMAP_LIST_SEL_SUBSCRIBED)
        out->ret |= IMAP_LIST_RET_SUBSCRIBED;
    if (out->select & IMAP_LIST_SEL_SPECIAL_USE)
        out->ret |= IMAP_LIST_RET_SPECIAL_USE;
    return 0;
}

int imap_list_args_status(const struct imap_arg *list, unsigned *items_r, const char **error_r)
{
    static const struct {
        const char *name;
        unsigned bit;
    } items[] = {
        {"MESSAGES", IMAP_STATUS_MESSAGES},
        {"RECENT", IMAP_STATUS_RECENT},
        {"UIDNEXT", IMAP_STATUS_UIDNEXT},
        {"UIDVALIDITY", IMAP_STATUS_UIDVALIDITY},
        {"UNSEEN", IMAP_STATUS_UNSEEN},
        {"DELETED", IMAP_STATUS_DELETED},
        {"HIGHESTMODSEQ", IMAP_STATUS_HIGHESTMODSEQ},
        {"SIZE", IMAP_STATUS_SIZE},
    };
    if (list->type != IMAP_ARG_LIST || list->count == 0) {
        *error_r = "STATUS needs a list of items";
        return -1;
    }
    unsigned bits = 0;
    for (size_t i = 0; i < list->count; i++) {
        size_t k = 0;
        while (k < sizeof(items) / sizeof(items[0]) &&
               !imap_arg_atom_is(&list->list[i], items[k].name))
            k++;
        if (k == sizeof(items) / sizeof(items[0])) {
            *error_r = "Unknown STATUS item";
            return -1;
        }
        bits |= items[k].bit;
    }
    *items_r = bits;
    return 0;
}

int imap_list_args_join(const char *ref, const char *pattern, char *out, size_t outsize)
{
    size_t rl = strlen(ref), pl = strlen(pattern);
    if (rl + pl >= outsize)
        return -1;
    memcpy(out, ref, rl);
    memcpy(out + rl, pattern, pl + 1);
    return 0;
}
