/* dkim-tags: the tag=value lists of RFC 6376 section 3.2.
 *
 * The same syntax carries a DKIM-Signature header field's value and a key
 * record (the TXT answer of selector._domainkey.domain). Parsing is strict:
 * a tag name is ALPHA *(ALNUM / "_"), a value is printable ASCII without
 * ";" with whitespace (or folding, CRLF followed by a space or tab) only
 * between its words, a name appears at most once, and a list may end with
 * one ";". The parser copies nothing: every tag points into the input. */
#ifndef POSTINO_DKIM_TAGS_H
#define POSTINO_DKIM_TAGS_H

#include <stdbool.h>
#include <stddef.h>

/* More tags than this in one list is an error (a signature has at most 14
 * defined tags, a key record 6). */
#define DKIM_TAGS_MAX 32

struct dkim_tag {
    const char *name; /* points into the input, name_len bytes */
    size_t name_len;
    const char *value; /* without the whitespace around it; may be empty */
    size_t value_len;
    /* The bytes after "=" up to (not including) the ";" that ends the tag
     * or the end of the input: what "b= emptied" removes (RFC 6376 3.7). */
    size_t after_eq_off, spec_end_off;
};

struct dkim_tag_list {
    struct dkim_tag tags[DKIM_TAGS_MAX];
    size_t count;
};

/* Parse the n bytes at s (need not be terminated) into out. Returns 0, or
 * -1 with a static reason in *error_r ("duplicate tag", "bad tag name",
 * ...) when the text is not a valid tag list; out is then unspecified.
 * The pointers in out stay valid as long as s does. */
int dkim_tags_parse(const char *s, size_t n, struct dkim_tag_list *out, const char **error_r);

/* The tag called name (case-sensitive, as RFC 6376 says), or NULL. */
const struct dkim_tag *dkim_tags_find(const struct dkim_tag_list *l, const char *name);

/* True if the value of t equals s exactly (case-sensitive) / ignoring ASCII
 * case. */
bool dkim_tag_is(const struct dkim_tag *t, const char *s);
bool dkim_tag_is_ci(const struct dkim_tag *t, const char *s);

/* Decode the base64 value of a tag (b=, bh=, p=), skipping the whitespace
 * and folding inside it, into out (size outsize). Returns the number of
 * bytes written, or -1 if the text is not base64 (bad character, bad
 * padding, data after padding) or does not fit. */
long dkim_base64_decode(const char *s, size_t n, unsigned char *out, size_t outsize);

#endif
