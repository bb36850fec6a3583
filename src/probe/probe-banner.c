#include "probe-banner.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/str.h"

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(char c)
{
    return is_digit(c) || is_alpha(c);
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* A byte that belongs to a word of a greeting: host names and version
 * strings keep their dots, dashes and underscores, so "postfix.example.com"
 * is not the word "Postfix". */
static bool is_word_char(char c)
{
    return is_alnum(c) || c == '.' || c == '-' || c == '_';
}

/* A version as the table and the greetings write it: a digit first, then
 * digits, letters and dots. */
static bool is_version_char(char c)
{
    return is_alnum(c) || c == '.';
}

/* ---------------------------------------------------------------------- */
/* Versions */

/* One dot-separated part of a version: its number (leading zeros dropped,
 * so that numbers of any length compare without overflow) and the letters
 * and digits after it. */
struct vpart {
    const char *num;
    size_t num_len;
    const char *suf;
    size_t suf_len;
};

/* Cut the next part off *s; an exhausted version gives the empty part. */
static struct vpart vpart_next(const char **s)
{
    struct vpart p = {"", 0, "", 0};
    const char *c = *s;
    while (*c == '0' && is_digit(c[1]))
        c++;
    p.num = c;
    while (is_digit(*c))
        c++;
    p.num_len = (size_t)(c - p.num);
    p.suf = c;
    while (*c != '\0' && *c != '.')
        c++;
    p.suf_len = (size_t)(c - p.suf);
    if (*c == '.')
        c++;
    *s = c;
    return p;
}

/* Compare two decimal numbers without leading zeros ("" is 0). */
static int num_compare(const char *a, size_t an, const char *b, size_t bn)
{
    if (an == 1 && a[0] == '0')
        an = 0;
    if (bn == 1 && b[0] == '0')
        bn = 0;
    if (an != bn)
        return an < bn ? -1 : 1;
    int c = an ? memcmp(a, b, an) : 0;
    return c < 0 ? -1 : c > 0;
}

/* Compare two suffixes ("a", "FP10", "p1") naturally: runs of digits as
 * numbers, other bytes ignoring ASCII case; the empty suffix is least. */
static int suffix_compare(const char *a, size_t an, const char *b, size_t bn)
{
    size_t i = 0, j = 0;
    while (i < an && j < bn) {
        if (is_digit(a[i]) && is_digit(b[j])) {
            size_t i0 = i, j0 = j;
            while (i0 < an && a[i0] == '0' && i0 + 1 < an && is_digit(a[i0 + 1]))
                i0++;
            while (j0 < bn && b[j0] == '0' && j0 + 1 < bn && is_digit(b[j0 + 1]))
                j0++;
            size_t i1 = i0, j1 = j0;
            while (i1 < an && is_digit(a[i1]))
                i1++;
            while (j1 < bn && is_digit(b[j1]))
                j1++;
            int c = num_compare(a + i0, i1 - i0, b + j0, j1 - j0);
            if (c != 0)
                return c;
            i = i1;
            j = j1;
            continue;
        }
        char x = str_lower_char(a[i]), y = str_lower_char(b[j]);
        if (x != y)
            return (unsigned char)x < (unsigned char)y ? -1 : 1;
        i++;
        j++;
    }
    if (i < an)
        return 1;
    if (j < bn)
        return -1;
    return 0;
}

int probe_version_compare(const char *a, const char *b)
{
    while (*a != '\0' || *b != '\0') {
        struct vpart pa = vpart_next(&a);
        struct vpart pb = vpart_next(&b);
        int c = num_compare(pa.num, pa.num_len, pb.num, pb.num_len);
        if (c == 0)
            c = suffix_compare(pa.suf, pa.suf_len, pb.suf, pb.suf_len);
        if (c != 0)
            return c;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Greetings */

/* The text looked at: at most PROBE_BANNER_SCAN_MAX bytes. */
struct text {
    const char *s;
    size_t n;
};

static struct text text_make(const char *s, size_t n)
{
    struct text t = {s ? s : "", s ? n : 0};
    if (t.n > PROBE_BANNER_SCAN_MAX)
        t.n = PROBE_BANNER_SCAN_MAX;
    return t;
}

/* Where the words of phrase (single spaces between them in phrase, any run
 * of blanks or newlines in the text) stand as a whole at t.s[at]; the
 * number of bytes they cover, or 0. */
static size_t phrase_at(struct text t, size_t at, const char *phrase)
{
    if (at > 0 && is_word_char(t.s[at - 1]))
        return 0;
    size_t i = at;
    for (const char *p = phrase; *p != '\0'; p++) {
        if (*p == ' ') {
            if (i >= t.n || !(is_blank(t.s[i]) || t.s[i] == '\n'))
                return 0;
            while (i < t.n && (is_blank(t.s[i]) || t.s[i] == '\n'))
                i++;
            continue;
        }
        if (i >= t.n || str_lower_char(t.s[i]) != str_lower_char(*p))
            return 0;
        i++;
    }
    /* A word goes on past a dot or dash only when another word byte follows:
     * "Haraka is at your service." ends a sentence, "Postfix.example" is a
     * host name. */
    if (i < t.n && is_word_char(t.s[i]) &&
        (is_alnum(t.s[i]) || t.s[i] == '_' || (i + 1 < t.n && is_word_char(t.s[i + 1]))))
        return 0;
    return i - at;
}

/* The first place from `from` on where phrase stands as a whole word;
 * t.n when it does not. *len_r gets the bytes it covers. */
static size_t phrase_find(struct text t, size_t from, const char *phrase, size_t *len_r)
{
    for (size_t i = from; i < t.n; i++) {
        if (str_lower_char(t.s[i]) != str_lower_char(phrase[0]))
            continue;
        size_t len = phrase_at(t, i, phrase);
        if (len > 0) {
            *len_r = len;
            return i;
        }
    }
    return t.n;
}

/* Skip blanks (not newlines: a version is on the name's line). */
static size_t skip_blanks(struct text t, size_t i)
{
    while (i < t.n && is_blank(t.s[i]))
        i++;
    return i;
}

/* The version at t.s[i] into out (empty when there is none): a digit
 * first, then digits, letters and dots, ended by anything else; trailing
 * dots (the end of a sentence) are not part of it. A longer run than
 * PROBE_VERSION_MAX is not a version. */
static void version_at(struct text t, size_t i, char out[PROBE_VERSION_MAX + 1])
{
    out[0] = '\0';
    if (i >= t.n || !is_digit(t.s[i]))
        return;
    size_t end = i;
    while (end < t.n && is_version_char(t.s[end]))
        end++;
    while (end > i && t.s[end - 1] == '.')
        end--;
    if (end - i > PROBE_VERSION_MAX)
        return;
    (void)str_copyn(out, PROBE_VERSION_MAX + 1, t.s + i, end - i);
}

/* A product as greetings name it. */
struct product {
    const char *phrase; /* the words looked for */
    const char *name;   /* what probe_banner_identify calls it */
    const char *before; /* a word that may stand between name and version */
};

/* Products named by a word or two of the greeting, each a whole word: the
 * earliest in the text wins. The Microsoft greetings are looked at first
 * (microsoft_identify). */
static const struct product products[] = {
    {"Postfix", "Postfix", NULL},
    {"Sendmail", "Sendmail", NULL},
    {"Exim", "Exim", NULL},
    {"OpenSMTPD", "OpenSMTPD", NULL},
    {"Haraka", "Haraka", NULL},
    {"qmail", "qmail", NULL},
    {"netqmail", "qmail", NULL},
    {"notqmail", "qmail", NULL},
    {"Zimbra", "Zimbra", NULL},
    {"MDaemon", "MDaemon", NULL},
    {"Kerio Connect", "Kerio Connect", NULL},
    /* Kerio Connect's name before version 7 (2010). */
    {"Kerio MailServer", "Kerio Connect", NULL},
    /* "(Lotus Domino Release 5.0.4)", "(IBM Domino Release 9.0.1FP10)",
     * "(HCL Domino Release 12.0.2)" */
    {"Domino", "Domino", "Release"},
    {"postino", "postino", NULL},
};

#define N_PRODUCTS (sizeof(products) / sizeof(products[0]))

/* The version after a product's name at t.s[i]: blanks, an optional '('
 * or the product's `before` word, then the version. */
static void version_after(struct text t, size_t i, const char *before,
                          char out[PROBE_VERSION_MAX + 1])
{
    i = skip_blanks(t, i);
    if (i < t.n && t.s[i] == '(')
        i = skip_blanks(t, i + 1);
    size_t len = before != NULL ? phrase_at(t, i, before) : 0;
    if (len > 0)
        i = skip_blanks(t, i + len);
    version_at(t, i, out);
}

static void set_name(struct probe_software *out, const char *name)
{
    (void)str_copy(out->name, sizeof(out->name), name);
}

/* True if the greeting's host (its first word) is under outlook.com,
 * where Microsoft's hosted Exchange answers. */
static bool host_is_outlook(struct text t)
{
    size_t end = 0;
    while (end < t.n && !is_blank(t.s[end]) && t.s[end] != '\n')
        end++;
    static const char suffix[] = ".outlook.com";
    size_t sl = sizeof(suffix) - 1;
    return end > sl && str_eqn_ci(t.s + end - sl, suffix, sl);
}

/* The Microsoft greetings; true if t is one. */
static bool microsoft_identify(struct text t, struct probe_software *out)
{
    size_t len = 0;
    /* Exchange 5.5: "ESMTP Server (Microsoft Exchange Internet Mail
     * Service 5.5.2448.0) ready" */
    size_t at = phrase_find(t, 0, "Microsoft Exchange Internet Mail Service", &len);
    if (at < t.n) {
        set_name(out, "Microsoft Exchange");
        version_after(t, at + len, NULL, out->version);
        return true;
    }
    at = phrase_find(t, 0, "Microsoft ESMTP MAIL Service", &len);
    if (at >= t.n)
        return false;
    size_t i = at + len;
    if (i < t.n && t.s[i] == ',')
        i++;
    i = skip_blanks(t, i);
    size_t vlen = phrase_at(t, i, "Version");
    if (vlen > 0 && i + vlen < t.n && t.s[i + vlen] == ':') {
        version_at(t, skip_blanks(t, i + vlen + 1), out->version);
        if (out->version[0] != '\0') {
            /* 14.x is Exchange 2010, 15.x 2013 and later; anything else is
             * the Windows build of its SMTP service (5.0 Windows 2000, 6.0
             * Windows Server 2003 ... 10.0 Windows Server 2016 and later). */
            bool exchange =
                (str_prefix_ci(out->version, "14.") || str_prefix_ci(out->version, "15."));
            set_name(out, exchange ? "Microsoft Exchange" : "Microsoft SMTP Service");
            return true;
        }
    }
    set_name(out, host_is_outlook(t) ? "Microsoft Exchange Online" : "Microsoft Exchange");
    return true;
}

/* The earliest product named in the greeting; true if there is one. */
static bool products_identify(struct text t, struct probe_software *out)
{
    size_t best = t.n, best_len = 0;
    const struct product *found = NULL;
    for (size_t k = 0; k < N_PRODUCTS; k++) {
        size_t len = 0;
        size_t at = phrase_find(t, 0, products[k].phrase, &len);
        if (at < best) {
            best = at;
            best_len = len;
            found = &products[k];
        }
    }
    if (found == NULL)
        return false;
    set_name(out, found->name);
    version_after(t, best + best_len, found->before, out->version);
    return true;
}

/* True if a line of the EHLO reply (after the first) starts with the
 * keyword kw. */
static bool ehlo_has_keyword(struct text t, const char *kw)
{
    size_t kl = strlen(kw);
    size_t i = 0;
    bool first = true;
    while (i < t.n) {
        const char *nl = memchr(t.s + i, '\n', t.n - i);
        size_t end = nl ? (size_t)(nl - t.s) : t.n;
        if (!first && end - i >= kl && str_eqn_ci(t.s + i, kw, kl) &&
            (end - i == kl || is_blank(t.s[i + kl]) || t.s[i + kl] == '\r' || t.s[i + kl] == '='))
            return true;
        first = false;
        i = end + 1;
    }
    return false;
}

/* What the EHLO reply tells when the greeting told nothing. */
static void ehlo_identify(struct text t, struct probe_software *out)
{
    static const struct {
        const char *keyword;
        const char *name;
    } telltales[] = {
        /* Exchange: XEXCH50 (2003 to 2010), X-ANONYMOUSTLS (2007 and
         * later), XRDST and XSHADOWREQUEST (2013 and later), X-EXPS. */
        {"XEXCH50", "Microsoft Exchange"},
        {"X-ANONYMOUSTLS", "Microsoft Exchange"},
        {"XRDST", "Microsoft Exchange"},
        {"XSHADOWREQUEST", "Microsoft Exchange"},
        {"XSHADOW", "Microsoft Exchange"},
        {"X-EXPS", "Microsoft Exchange"},
        /* Sendmail alone offers these. */
        {"DELIVERBY", "Sendmail"},
        {"VERB", "Sendmail"},
        /* Exim's early pipelining. */
        {"X_PIPE_CONNECT", "Exim"},
    };
    for (size_t k = 0; k < sizeof(telltales) / sizeof(telltales[0]); k++) {
        if (ehlo_has_keyword(t, telltales[k].keyword)) {
            const char *name = telltales[k].name;
            if (strcmp(name, "Microsoft Exchange") == 0 && host_is_outlook(t))
                name = "Microsoft Exchange Online";
            set_name(out, name);
            return;
        }
    }
    /* Haraka's EHLO greeting line: "... Hello client [ip], Haraka is at
     * your service." */
    size_t len = 0;
    if (phrase_find(t, 0, "Haraka is at your service", &len) < t.n)
        set_name(out, "Haraka");
}

void probe_banner_identify(const char *banner, size_t banner_len, const char *ehlo, size_t ehlo_len,
                           struct probe_software *out)
{
    memset(out, 0, sizeof(*out));
    struct text b = text_make(banner, banner_len);
    if (microsoft_identify(b, out) || products_identify(b, out))
        return;
    memset(out, 0, sizeof(*out));
    ehlo_identify(text_make(ehlo, ehlo_len), out);
}

/* ---------------------------------------------------------------------- */
/* The table */

struct table_parse {
    struct probe_software_table *t;
    struct buf error;
    bool dated;
};

__attribute__((format(printf, 3, 4))) static int table_fail(struct table_parse *p, unsigned line,
                                                            const char *fmt, ...)
{
    va_list ap;
    buf_reset(&p->error);
    (void)buf_printf(&p->error, "line %u: ", line);
    va_start(ap, fmt);
    (void)buf_vprintf(&p->error, fmt, ap);
    va_end(ap);
    return -1;
}

/* s[0..*n) without blanks at either end. */
static const char *trim(const char *s, size_t *n)
{
    while (*n > 0 && is_blank(s[0])) {
        s++;
        (*n)--;
    }
    while (*n > 0 && is_blank(s[*n - 1]))
        (*n)--;
    return s;
}

/* True if s[0..n) is a version the table may hold. */
static bool version_valid(const char *s, size_t n)
{
    if (n == 0 || !is_digit(s[0]) || s[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!is_version_char(s[i]) || (s[i] == '.' && i + 1 < n && s[i + 1] == '.'))
            return false;
    }
    return true;
}

/* "dated YYYY-MM-DD" */
static int table_dated(struct table_parse *p, unsigned line, const char *s, size_t n)
{
    if (p->dated)
        return table_fail(p, line, "a second \"dated\" line");
    s = trim(s, &n);
    bool ok = n == 10 && s[4] == '-' && s[7] == '-';
    for (size_t i = 0; ok && i < n; i++) {
        if (i != 4 && i != 7 && !is_digit(s[i]))
            ok = false;
    }
    if (ok) {
        int month = (s[5] - '0') * 10 + (s[6] - '0');
        int day = (s[8] - '0') * 10 + (s[9] - '0');
        ok = month >= 1 && month <= 12 && day >= 1 && day <= 31;
    }
    if (!ok)
        return table_fail(p, line, "\"dated\" wants a date as YYYY-MM-DD");
    (void)str_copyn(p->t->dated, sizeof(p->t->dated), s, n);
    p->dated = true;
    return 0;
}

/* "NAME | OBSOLETE-BEFORE | NOTE" */
static int table_rule(struct table_parse *p, unsigned line, const char *s, size_t n)
{
    const char *bar1 = memchr(s, '|', n);
    const char *bar2 = bar1 ? memchr(bar1 + 1, '|', n - (size_t)(bar1 + 1 - s)) : NULL;
    if (bar2 == NULL)
        return table_fail(p, line, "expected NAME | OBSOLETE-BEFORE | NOTE");
    size_t name_n = (size_t)(bar1 - s);
    const char *name = trim(s, &name_n);
    size_t before_n = (size_t)(bar2 - bar1 - 1);
    const char *before = trim(bar1 + 1, &before_n);
    size_t note_n = n - (size_t)(bar2 + 1 - s);
    const char *note = trim(bar2 + 1, &note_n);

    if (name_n == 0)
        return table_fail(p, line, "the software's name is empty");
    if (name_n > PROBE_SOFTWARE_NAME_MAX)
        return table_fail(p, line, "the software's name is longer than %d bytes",
                          PROBE_SOFTWARE_NAME_MAX);
    if (!version_valid(before, before_n)) {
        char show[64];
        return table_fail(p, line, "\"%s\" is not a version (a digit, then digits, letters, dots)",
                          str_printable(show, sizeof(show), before, before_n > 40 ? 40 : before_n));
    }
    if (before_n > PROBE_VERSION_MAX)
        return table_fail(p, line, "the version is longer than %d bytes", PROBE_VERSION_MAX);
    if (note_n == 0)
        return table_fail(p, line, "the note is empty: say why it is obsolete");
    if (note_n > PROBE_NOTE_MAX)
        return table_fail(p, line, "the note is longer than %d bytes", PROBE_NOTE_MAX);
    if (memchr(note, '|', note_n) != NULL)
        return table_fail(p, line, "a '|' in the note");

    struct probe_software_table *t = p->t;
    for (size_t i = 0; i < t->n; i++) {
        if (strlen(t->rule[i].name) == name_n && str_eqn_ci(t->rule[i].name, name, name_n))
            return table_fail(p, line, "a second rule for \"%s\"", t->rule[i].name);
    }
    if (t->n >= PROBE_TABLE_RULES_MAX)
        return table_fail(p, line, "more than %d rules", PROBE_TABLE_RULES_MAX);
    struct probe_software_rule *r = &t->rule[t->n++];
    (void)str_copyn(r->name, sizeof(r->name), name, name_n);
    (void)str_copyn(r->before, sizeof(r->before), before, before_n);
    (void)str_copyn(r->note, sizeof(r->note), note, note_n);
    return 0;
}

static int table_line(struct table_parse *p, unsigned line, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return table_fail(p, line, "a control byte (0x%02x)", c);
    }
    if (!str_utf8_valid(s, n))
        return table_fail(p, line, "not UTF-8");
    size_t tn = n;
    const char *ts = trim(s, &tn);
    if (tn == 0 || ts[0] == '#')
        return 0;
    if (tn >= 5 && memcmp(ts, "dated", 5) == 0 && (tn == 5 || is_blank(ts[5])))
        return table_dated(p, line, ts + 5, tn - 5);
    return table_rule(p, line, ts, tn);
}

int probe_software_table_parse(const char *text, size_t len, struct probe_software_table *t,
                               char **error_r)
{
    struct table_parse p;
    memset(&p, 0, sizeof(p));
    memset(t, 0, sizeof(*t));
    p.t = t;
    buf_init(&p.error, 256);

    int ret = 0;
    if (len > PROBE_TABLE_TEXT_MAX)
        ret = table_fail(&p, 0, "the table is larger than %d bytes", PROBE_TABLE_TEXT_MAX);
    size_t pos = 0;
    unsigned line = 0;
    while (ret == 0 && pos < len) {
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + (nl != NULL);
        line++;
        if (n > 0 && s[n - 1] == '\r')
            n--;
        if (n > PROBE_TABLE_LINE_MAX)
            ret = table_fail(&p, line, "longer than %d bytes", PROBE_TABLE_LINE_MAX);
        else
            ret = table_line(&p, line, s, n);
    }
    if (ret == 0 && !p.dated)
        ret = table_fail(&p, 0, "no \"dated YYYY-MM-DD\" line");
    if (ret == 0) {
        buf_free(&p.error);
        return 0;
    }
    memset(t, 0, sizeof(*t));
    if (error_r != NULL)
        *error_r = buf_steal(&p.error);
    buf_free(&p.error);
    return -1;
}

enum probe_age probe_software_age(const struct probe_software_table *t,
                                  const struct probe_software *sw,
                                  const struct probe_software_rule **rule_r)
{
    const struct probe_software_rule *rule = NULL;
    if (sw->name[0] != '\0') {
        for (size_t i = 0; i < t->n && rule == NULL; i++) {
            if (str_eq_ci(t->rule[i].name, sw->name))
                rule = &t->rule[i];
        }
    }
    if (rule_r != NULL)
        *rule_r = rule;
    if (rule == NULL || sw->version[0] == '\0' || !is_digit(sw->version[0]))
        return PROBE_AGE_UNKNOWN;
    return probe_version_compare(sw->version, rule->before) < 0 ? PROBE_AGE_OBSOLETE
                                                                : PROBE_AGE_CURRENT;
}
