/* httpd-expiry: expired transfers go. Every share_expiry_interval (and at start) the
 * transfers whose time is up lose their encrypted files and their rows;
 * their evidence log stays (share-store), with an "expire" entry. */
#include <dirent.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "httpd-private.h"
#include "lib/log.h"
#include "lib/str.h"
#include "share/share-store.h"

#define EXPIRY_BATCH 64 /* transfers removed per pass */

static struct event *expiry_ev;

/* Remove data_dir/shares/ID and the files in it. */
static void remove_files(const char *id)
{
    char dir[4200];
    if (snprintf(dir, sizeof(dir), "%s/shares/%s", httpd_data_dir, id) >= (int)sizeof(dir))
        return; /* cannot be: data_dir fits in 4096 and an id in 22 */
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (e->d_name[0] != '.' && unlinkat(dirfd(d), e->d_name, 0) < 0)
                log_warn("share %s: cannot remove %s/%s", id, dir, e->d_name);
        closedir(d);
    }
    rmdir(dir);
}

void httpd_expire_now(long long now)
{
    char ids[EXPIRY_BATCH][SHARE_ID_LEN + 1];
    int n = share_transfer_expired(httpd_store, now, ids, EXPIRY_BATCH);
    for (int i = 0; i < n; i++) {
        remove_files(ids[i]);
        struct share_access a = {.time = now, .completed = true};
        str_copy(a.transfer, sizeof(a.transfer), ids[i]);
        str_copy(a.client, sizeof(a.client), "postino");
        str_copy(a.event, sizeof(a.event), "expire");
        share_access_add(httpd_store, &a);
        if (share_transfer_delete(httpd_store, ids[i]) < 0)
            log_error("share %s: cannot forget the expired transfer: %s", ids[i],
                      share_store_error(httpd_store));
        else
            log_info("share %s: expired; its files are deleted", ids[i]);
    }
}

static void on_expiry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    httpd_expire_now((long long)time(NULL));
}

void httpd_expiry_start(struct event_base *base, long long every_secs)
{
    expiry_ev = event_new(base, -1, EV_PERSIST, on_expiry, NULL);
    struct timeval tv = {(time_t)every_secs, 0};
    event_add(expiry_ev, &tv);
    httpd_expire_now((long long)time(NULL));
}

void httpd_expiry_stop(void)
{
    if (expiry_ev)
        event_free(expiry_ev);
    expiry_ev = NULL;
}
