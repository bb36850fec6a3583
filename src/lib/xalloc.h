/* xalloc: allocation that never returns NULL.
 *
 * A mail server that runs out of memory cannot do anything useful with the
 * failure half-way through a parser, so these abort the process (the
 * supervisor restarts it; the spool keeps everything acknowledged). */
#ifndef POSTINO_XALLOC_H
#define POSTINO_XALLOC_H

#include <stddef.h>

/* Allocate n bytes (zeroed for xcalloc). Never returns NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
/* Resize; never returns NULL. */
void *xrealloc(void *p, size_t n);
/* Copy a NUL-terminated string / n bytes plus a terminator. */
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Free *pp and set it to NULL. */
#define x_free(pp)                                                                                 \
    do {                                                                                           \
        free(*(pp));                                                                               \
        *(pp) = NULL;                                                                              \
    } while (0)

#endif
