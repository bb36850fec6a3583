/* Fuzz target: the `milters` setting through milter_list_parse. Besides
 * not crashing or reading past the input:
 *  - on failure no milter is kept, and the message quotes the entry in
 *    printable ASCII (it reaches the log and the configuration check);
 *  - on success every address is one milter_open() takes, holds no
 *    separator of the setting, and every timeout is the default or a
 *    whole number of seconds from 1s to 10m;
 *  - the list written back as a setting (every option given) parses to
 *    the same list. */
#include <stdbool.h>

#include "fuzz-util.h"
#include "lib/buf.h"
#include "policy/milter-list.h"

static const struct milter_list_defaults defaults = {true, 7000, 9000};

static void check_timeout(unsigned ms, unsigned def)
{
    CHECK(ms == def || (ms >= 1000 && ms <= MILTER_LIST_TIMEOUT_MAX && ms % 1000 == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_copy(data, size);
    struct milter_list l;
    char *error = NULL;
    int rc = milter_list_parse(text, size, &defaults, &l, &error);
    free(text);
    if (rc != 0) {
        CHECK(rc == -1 && l.n == 0 && error != NULL);
        size_t n = strlen(error);
        CHECK(n > 2 && error[0] == '"' && n <= MILTER_ADDRESS_TEXT_MAX + 100);
        for (size_t i = 0; i < n; i++)
            CHECK(error[i] >= 0x20 && error[i] < 0x7f);
        free(error);
        return 0;
    }
    CHECK(error == NULL && l.n <= MILTER_LIST_MAX && size <= MILTER_LIST_SETTING_MAX);

    struct buf again;
    buf_init(&again, BUF_UNLIMITED);
    for (size_t i = 0; i < l.n; i++) {
        const struct milter_spec *s = &l.m[i];
        size_t n = strlen(s->address);
        CHECK(n > 0 && n <= MILTER_ADDRESS_TEXT_MAX);
        CHECK(strcspn(s->address, " \t\r\n,") == n);
        const char *why = NULL;
        CHECK(milter_address_check(s->address, &why) == 0);
        check_timeout(s->connect_timeout_ms, defaults.connect_timeout_ms);
        check_timeout(s->command_timeout_ms, defaults.command_timeout_ms);
        buf_printf(&again, "%s%s default=%s connect_timeout=%us command_timeout=%us", i ? ", " : "",
                   s->address, s->default_accept ? "accept" : "tempfail",
                   s->connect_timeout_ms / 1000, s->command_timeout_ms / 1000);
    }
    /* The defaults of the second parse are none of the first's. */
    static const struct milter_list_defaults other = {false, 1000, 2000};
    struct milter_list l2;
    CHECK(milter_list_parse(buf_cstr(&again), again.len, &other, &l2, &error) == 0);
    CHECK(l2.n == l.n);
    for (size_t i = 0; i < l.n; i++) {
        CHECK(strcmp(l.m[i].address, l2.m[i].address) == 0);
        CHECK(l.m[i].default_accept == l2.m[i].default_accept);
        CHECK(l.m[i].connect_timeout_ms == l2.m[i].connect_timeout_ms);
        CHECK(l.m[i].command_timeout_ms == l2.m[i].command_timeout_ms);
    }
    buf_free(&again);
    return 0;
}
