/* libFuzzer target: RFC 5322 address lists (postino sendmail -t). Every
 * address handed out lies inside the input and contains an '@'. */
#include "fuzz-util.h"
#include "mime/mime-address.h"

struct seen {
    size_t total;
    size_t limit;
};

static void on_addr(const char *addr, size_t len, void *arg)
{
    struct seen *s = arg;
    CHECK(len > 0 && len <= s->limit);
    CHECK(memchr(addr, '@', len) != NULL);
    s->total += len;
    CHECK(s->total <= s->limit);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_copy(data, size);
    struct seen s = {0, size};
    int n = mime_address_list(in, size, on_addr, &s);
    CHECK(n >= -1);
    free(in);
    return 0;
}
