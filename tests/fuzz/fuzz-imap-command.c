/* Fuzz target: IMAP commands read by imap-parser in arbitrary pieces, and
 * every command parsed through the FETCH, STORE and SEARCH parsers (and
 * its strings through modified UTF-7 and LIST matching).
 *
 * The first input byte picks what the session does with literals (take,
 * stream, refuse, or a mix); the pieces are chosen from the input itself.
 * Besides not crashing or leaking, every event must keep the parser's
 * promises: consumed never exceeds the input, NEED_MORE takes everything,
 * arguments respect the limits, FATAL is final. */
#include <stdbool.h>

#include "fuzz-util.h"
#include "imap/imap-fetch-parse.h"
#include "imap/imap-list-match.h"
#include "imap/imap-parser.h"
#include "imap/imap-search-parse.h"
#include "imap/imap-seqset.h"
#include "imap/imap-utf7.h"
#include "lib/buf.h"

/* Check the shape of an argument list; returns how many nodes it holds. */
static size_t check_args(const struct imap_arg *a, size_t n, int depth)
{
    CHECK(depth <= IMAP_LIST_DEPTH_MAX);
    CHECK(n == 0 || a != NULL);
    size_t total = n;
    for (size_t i = 0; i < n; i++) {
        switch (a[i].type) {
        case IMAP_ARG_ATOM:
        case IMAP_ARG_NIL:
            CHECK(a[i].len > 0 && strlen(a[i].str) == a[i].len);
            for (size_t k = 0; k < a[i].len; k++)
                CHECK((unsigned char)a[i].str[k] > 0x20 && (unsigned char)a[i].str[k] < 0x7f);
            break;
        case IMAP_ARG_QUOTED:
            CHECK(strlen(a[i].str) == a[i].len);
            break;
        case IMAP_ARG_LITERAL:
            CHECK(a[i].str != NULL);
            if (!a[i].literal_streamed)
                CHECK(a[i].str[a[i].len] == '\0');
            break;
        case IMAP_ARG_LIST:
            CHECK(a[i].str == NULL);
            total += check_args(a[i].list, a[i].count, depth + 1);
            break;
        }
        if (a[i].has_section) {
            CHECK(a[i].type == IMAP_ARG_ATOM);
            total += check_args(a[i].section, a[i].section_count, depth + 1);
        }
        if (a[i].partial) {
            CHECK(a[i].has_section);
            CHECK(strlen(a[i].partial) <= IMAP_PARTIAL_MAX);
        }
    }
    return total;
}

/* Run the argument parsers over a command, from every starting point. */
static void parse_command(const struct imap_command *c)
{
    CHECK(c->tag[0] != '\0' && strlen(c->tag) <= IMAP_TAG_MAX);
    CHECK(c->name[0] != '\0' && strlen(c->name) <= IMAP_COMMAND_NAME_MAX);
    for (const char *s = c->name; *s; s++)
        CHECK(!(*s >= 'a' && *s <= 'z'));
    CHECK(check_args(c->args, c->count, 0) <= IMAP_ARGS_MAX);
    for (size_t skip = 0; skip <= c->count && skip <= 2; skip++) {
        const struct imap_arg *a = c->args ? c->args + skip : NULL;
        size_t n = c->count - skip;
        const char *err = NULL;
        struct imap_fetch f;
        if (imap_fetch_parse(a, n, &f, &err) == 0) {
            CHECK(f.count > 0 && f.count <= IMAP_FETCH_ITEMS_MAX);
            struct buf name;
            buf_init(&name, 4096);
            for (size_t i = 0; i < f.count; i++) {
                buf_reset(&name);
                CHECK(imap_fetch_item_write_name(&f.items[i], &name) == 0);
            }
            buf_free(&name);
        } else {
            CHECK(err != NULL);
        }
        imap_fetch_free(&f);
        struct imap_store st;
        if (imap_store_parse(a, n, &st, &err) == 0)
            CHECK(st.flag_count <= IMAP_STORE_FLAGS_MAX);
        imap_store_free(&st);
        struct imap_search se;
        int r = imap_search_parse(a, n, &se, &err);
        CHECK(r == IMAP_SEARCH_PARSE_OK || r == IMAP_SEARCH_PARSE_BAD ||
              r == IMAP_SEARCH_PARSE_BADCHARSET);
        imap_search_free(&se);
    }
    /* Strings as mailbox names and patterns. */
    struct buf out;
    buf_init(&out, 8192);
    for (size_t i = 0; i < c->count; i++) {
        size_t len;
        const char *s = imap_arg_astring(&c->args[i], &len);
        if (!s)
            continue;
        buf_reset(&out);
        if (imap_utf7_decode(s, len, &out) == 0) {
            struct buf back;
            buf_init(&back, 16384);
            CHECK(imap_utf7_encode(out.data ? out.data : "", out.len, &back) == 0);
            CHECK(back.len == len && memcmp(back.data ? back.data : "", s, len) == 0);
            buf_free(&back);
        }
        if (i + 1 < c->count) {
            const char *name = imap_arg_astring(&c->args[i + 1], NULL);
            if (name && strlen(s) == len)
                (void)imap_list_match(s, name, '/');
        }
        if (imap_seqset_valid(s, len)) {
            struct imap_seqset set;
            imap_seqset_init(&set);
            const char *err;
            if (imap_seqset_parse(s, len, &set, &err) == 0)
                imap_seqset_resolve(&set, 1000);
            imap_seqset_free(&set);
        }
    }
    buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    struct fuzz_rng rng;
    fuzz_rng_init(&rng, data, size);
    struct imap_parser *p = imap_parser_new(mode & 0x80 ? 64 : 100000);
    size_t pos = 0;
    bool fatal = false;
    size_t max_piece = (mode & 0x40) ? 1 : (mode & 0x20) ? 7 : 512;
    while (pos < size && !fatal) {
        size_t piece = fuzz_rng_piece(&rng, max_piece);
        if (piece > size - pos)
            piece = size - pos;
        char *chunk = fuzz_copy(data + pos, piece);
        size_t off = 0;
        for (;;) {
            size_t used = 0;
            enum imap_parse_status st = imap_parser_feed(p, chunk + off, piece - off, &used);
            CHECK(used <= piece - off);
            off += used;
            if (st == IMAP_PARSE_NEED_MORE) {
                CHECK(off == piece);
                break;
            }
            if (st == IMAP_PARSE_FATAL) {
                CHECK(imap_parser_error(p) != NULL);
                CHECK(imap_parser_feed(p, "x", 1, &used) == IMAP_PARSE_FATAL && used == 0);
                fatal = true;
                break;
            }
            switch (st) {
            case IMAP_PARSE_LITERAL: {
                const struct imap_literal_info *li = imap_parser_literal(p);
                check_args(li->partial.args, li->partial.count, 0);
                unsigned choice = (mode & 3) == 3 ? (unsigned)(fuzz_rng_next(&rng) % 3) : mode & 3;
                if (choice == 2)
                    imap_parser_literal_refuse(p);
                else
                    imap_parser_literal_accept(p, choice == 1);
                break;
            }
            case IMAP_PARSE_LITERAL_DATA: {
                size_t n;
                bool last;
                const char *d = imap_parser_literal_data(p, &n, &last);
                CHECK(n == 0 || (d >= chunk && d + n <= chunk + piece));
                break;
            }
            case IMAP_PARSE_COMMAND: {
                const struct imap_command *c = imap_parser_command(p);
                parse_command(c);
                if ((mode & 0x10) && strcmp(c->name, "IDLE") == 0)
                    CHECK(imap_parser_read_line(p) == 0);
                break;
            }
            case IMAP_PARSE_LINE: {
                size_t n;
                const char *l = imap_parser_line(p, &n);
                CHECK(strlen(l) == n && n <= IMAP_LINE_MAX - 2);
                break;
            }
            case IMAP_PARSE_ERROR:
                CHECK(imap_parser_error(p) != NULL && imap_parser_tag(p)[0] != '\0');
                break;
            default:
                break;
            }
        }
        free(chunk);
        pos += piece;
    }
    imap_parser_free(&p);
    return 0;
}
