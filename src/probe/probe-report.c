#include "probe/probe-report.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "lib/xalloc.h"

struct item {
    bool check;
    char *key; /* fact key or check id */
    enum probe_verdict verdict;
    char *text;
};

struct section {
    char *id, *title;
    struct item *items;
    size_t n, cap;
};

struct probe_report {
    char *command;
    char *target;
    struct section *sec;
    size_t n, cap;
    unsigned counts[4];
};

struct probe_report *probe_report_new(const char *command, const char *target)
{
    struct probe_report *r = xcalloc(1, sizeof(*r));
    r->command = xstrdup(command);
    char t[PROBE_TEXT_MAX];
    str_printable(t, sizeof(t), target, strlen(target));
    r->target = xstrdup(t);
    return r;
}

void probe_report_free(struct probe_report **rp)
{
    struct probe_report *r = *rp;
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        struct section *s = &r->sec[i];
        for (size_t k = 0; k < s->n; k++) {
            free(s->items[k].key);
            free(s->items[k].text);
        }
        free(s->items);
        free(s->id);
        free(s->title);
    }
    free(r->sec);
    free(r->target);
    free(r->command);
    free(r);
    *rp = NULL;
}

void probe_report_section(struct probe_report *r, const char *id, const char *title)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        r->sec = xrealloc(r->sec, r->cap * sizeof(*r->sec));
    }
    struct section *s = &r->sec[r->n++];
    memset(s, 0, sizeof(*s));
    char t[PROBE_TEXT_MAX];
    str_printable(t, sizeof(t), id, strlen(id));
    s->id = xstrdup(t);
    str_printable(t, sizeof(t), title, strlen(title));
    s->title = xstrdup(t);
}

static void add(struct probe_report *r, bool check, const char *key, enum probe_verdict v,
                const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));
static void add(struct probe_report *r, bool check, const char *key, enum probe_verdict v,
                const char *fmt, va_list ap)
{
    if (r->n == 0)
        probe_report_section(r, "general", "General");
    struct section *s = &r->sec[r->n - 1];
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->items = xrealloc(s->items, s->cap * sizeof(*s->items));
    }
    char raw[PROBE_TEXT_MAX], t[PROBE_TEXT_MAX];
    if (vsnprintf(raw, sizeof(raw), fmt, ap) < 0)
        str_copy(raw, sizeof(raw), "?");
    str_printable(t, sizeof(t), raw, strlen(raw));
    struct item *it = &s->items[s->n++];
    it->check = check;
    it->key = xstrdup(key);
    it->verdict = v;
    it->text = xstrdup(t);
    if (check)
        r->counts[v]++;
}

void probe_report_fact(struct probe_report *r, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add(r, false, key, PROBE_INFO, fmt, ap);
    va_end(ap);
}

void probe_report_check(struct probe_report *r, const char *id, enum probe_verdict v,
                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add(r, true, id, v, fmt, ap);
    va_end(ap);
}

unsigned probe_report_count(const struct probe_report *r, enum probe_verdict v)
{
    return r->counts[v];
}

const char *probe_verdict_name(enum probe_verdict v)
{
    switch (v) {
    case PROBE_OK:
        return "ok";
    case PROBE_WARN:
        return "warn";
    case PROBE_FAIL:
        return "fail";
    case PROBE_INFO:
        return "info";
    }
    return "?";
}

void probe_report_print_text(const struct probe_report *r, FILE *f)
{
    fprintf(f, "postino %s: %s\n", r->command, r->target);
    for (size_t i = 0; i < r->n; i++) {
        const struct section *s = &r->sec[i];
        fprintf(f, "\n== %s\n", s->title);
        for (size_t k = 0; k < s->n; k++) {
            const struct item *it = &s->items[k];
            if (it->check)
                fprintf(f, "   %-5s %-18s %s\n", probe_verdict_name(it->verdict), it->key,
                        it->text);
            else
                fprintf(f, "         %-18s %s\n", it->key, it->text);
        }
    }
    unsigned w = r->counts[PROBE_WARN], fl = r->counts[PROBE_FAIL];
    fprintf(f, "\nResult: %u ok, %u warning%s, %u failure%s\n", r->counts[PROBE_OK], w,
            w == 1 ? "" : "s", fl, fl == 1 ? "" : "s");
}

/* A JSON string: the text is printable ASCII or UTF-8 already. */
static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

void probe_report_print_json(const struct probe_report *r, FILE *f)
{
    fputs("{\"command\": ", f);
    json_string(f, r->command);
    fputs(", \"target\": ", f);
    json_string(f, r->target);
    fputs(", \"sections\": [", f);
    for (size_t i = 0; i < r->n; i++) {
        const struct section *s = &r->sec[i];
        fputs(i ? ", {\"id\": " : "{\"id\": ", f);
        json_string(f, s->id);
        fputs(", \"title\": ", f);
        json_string(f, s->title);
        for (int pass = 0; pass < 2; pass++) {
            fputs(pass ? "], \"checks\": [" : ", \"facts\": [", f);
            bool first = true;
            for (size_t k = 0; k < s->n; k++) {
                const struct item *it = &s->items[k];
                if (it->check != (pass == 1))
                    continue;
                fputs(first ? "{" : ", {", f);
                first = false;
                fputs(pass ? "\"id\": " : "\"key\": ", f);
                json_string(f, it->key);
                if (pass) {
                    fputs(", \"verdict\": ", f);
                    json_string(f, probe_verdict_name(it->verdict));
                    fputs(", \"why\": ", f);
                } else {
                    fputs(", \"value\": ", f);
                }
                json_string(f, it->text);
                fputc('}', f);
            }
        }
        fputs("]}", f);
    }
    fprintf(f, "], \"summary\": {\"ok\": %u, \"warn\": %u, \"fail\": %u, \"info\": %u}}\n",
            r->counts[PROBE_OK], r->counts[PROBE_WARN], r->counts[PROBE_FAIL],
            r->counts[PROBE_INFO]);
}
