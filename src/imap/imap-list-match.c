#include "imap-list-match.h"

#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "lib/xalloc.h"

/* True if name starts with the mailbox INBOX and the pattern's start
 * spells it in some case: the pattern's first five characters then count
 * as "INBOX". */
static bool inbox_prefix(const char *pattern, const char *name, char sep)
{
    if (strncmp(name, "INBOX", 5) != 0 || (name[5] != '\0' && name[5] != sep))
        return false;
    return str_eqn_ci(pattern, "INBOX", 5) && strlen(pattern) >= 5;
}

bool imap_list_match(const char *pattern, const char *name, char separator)
{
    size_t plen = strlen(pattern), nlen = strlen(name);
    if (plen > IMAP_LIST_MATCH_MAX || nlen > IMAP_LIST_MATCH_MAX)
        return false;
    bool inbox = inbox_prefix(pattern, name, separator);
    /* cur[j]: the pattern so far matches the first j characters of name. */
    bool *cur = xcalloc(nlen + 1, sizeof(bool));
    bool *nxt = xcalloc(nlen + 1, sizeof(bool));
    cur[0] = true;
    for (size_t i = 0; i < plen; i++) {
        char c = pattern[i];
        if (c == '*' || c == '%') {
            if (i > 0 && pattern[i - 1] == c)
                continue; /* "**" is "*", "%%" is "%" */
            bool any = false;
            for (size_t j = 0; j <= nlen; j++) {
                if (c == '*') {
                    any = any || cur[j];
                    nxt[j] = any;
                } else {
                    nxt[j] = cur[j] || (j > 0 && nxt[j - 1] &&
                                        (separator == '\0' || name[j - 1] != separator));
                }
            }
        } else {
            if (inbox && i < 5)
                c = (char)(str_lower_char(c) - 'a' + 'A');
            nxt[0] = false;
            for (size_t j = 1; j <= nlen; j++)
                nxt[j] = cur[j - 1] && name[j - 1] == c;
        }
        bool *t = cur;
        cur = nxt;
        nxt = t;
    }
    bool r = cur[nlen];
    free(cur);
    free(nxt);
    return r;
}
