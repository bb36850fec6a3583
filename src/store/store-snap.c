/* store-snap: the message rows of a folder as last read, kept in the
 * account handle so that the next view of an unchanged folder is a copy
 * of an array instead of a read of every row of the index.
 *
 * A snapshot is valid while nothing changed its folder's message rows:
 * this process drops it (store_snap_forget) in every function that
 * writes them, and a commit by another connection changes PRAGMA
 * data_version, which the snapshot records. The file names of a snapshot
 * are in one block, shared (by reference) with the views made from it. */
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "store-private.h"

struct store_snap *store_snap_build(int64_t folder_id, const struct store_msg *msgs, size_t count)
{
    size_t names = 0;
    for (size_t i = 0; i < count; i++)
        names += strlen(msgs[i].filename) + 1;
    struct store_snap *s = xcalloc(1, sizeof(*s));
    s->refs = 1;
    s->folder_id = folder_id;
    s->data_version = -1;
    s->count = count;
    s->msgs = xmalloc((count ? count : 1) * sizeof(*s->msgs));
    s->names = xmalloc(names ? names : 1);
    s->names_size = names;
    char *p = s->names;
    for (size_t i = 0; i < count; i++) {
        size_t l = strlen(msgs[i].filename) + 1;
        memcpy(p, msgs[i].filename, l);
        s->msgs[i] = msgs[i];
        s->msgs[i].filename = p;
        s->msgs[i].recent = false;
        s->msgs[i].expunged = false;
        p += l;
    }
    return s;
}

struct store_snap *store_snap_ref(struct store_snap *s)
{
    s->refs++;
    return s;
}

void store_snap_unref(struct store_snap **sp)
{
    struct store_snap *s = *sp;
    if (!s)
        return;
    *sp = NULL;
    if (--s->refs > 0)
        return;
    free(s->msgs);
    free(s->names);
    free(s);
}

bool store_snap_owns(const struct store_snap *s, const char *name)
{
    if (!s)
        return false;
    uintptr_t p = (uintptr_t)name, b = (uintptr_t)s->names;
    return p >= b && p < b + s->names_size;
}

/* Octets a snapshot holds. */
static size_t snap_bytes(const struct store_snap *s)
{
    return s->count * sizeof(*s->msgs) + s->names_size;
}

void store_snap_put(struct store_account *acc, struct store_snap *s)
{
    store_snap_forget(acc, s->folder_id);
    if (snap_bytes(s) > STORE_SNAP_BYTES_MAX)
        return;
    /* room: drop the least recently used until it fits */
    for (;;) {
        size_t total = snap_bytes(s), free_slot = STORE_SNAPS_MAX, lru = STORE_SNAPS_MAX;
        for (size_t i = 0; i < STORE_SNAPS_MAX; i++) {
            struct store_snap *o = acc->snaps[i];
            if (!o) {
                free_slot = i;
                continue;
            }
            total += snap_bytes(o);
            if (lru == STORE_SNAPS_MAX || o->used < acc->snaps[lru]->used)
                lru = i;
        }
        if (free_slot < STORE_SNAPS_MAX && total <= STORE_SNAP_BYTES_MAX) {
            s->used = ++acc->snap_tick;
            acc->snaps[free_slot] = store_snap_ref(s);
            return;
        }
        store_snap_unref(&acc->snaps[lru]);
    }
}

struct store_snap *store_snap_get(struct store_account *acc, int64_t folder_id)
{
    for (size_t i = 0; i < STORE_SNAPS_MAX; i++) {
        struct store_snap *s = acc->snaps[i];
        if (s && s->folder_id == folder_id) {
            s->used = ++acc->snap_tick;
            return s;
        }
    }
    return NULL;
}

void store_snap_forget(struct store_account *acc, int64_t folder_id)
{
    for (size_t i = 0; i < STORE_SNAPS_MAX; i++)
        if (acc->snaps[i] && acc->snaps[i]->folder_id == folder_id)
            store_snap_unref(&acc->snaps[i]);
}

void store_snap_forget_all(struct store_account *acc)
{
    for (size_t i = 0; i < STORE_SNAPS_MAX; i++)
        store_snap_unref(&acc->snaps[i]);
}
