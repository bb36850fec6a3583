/* privs: running as the right user.
 *
 * Started as root, postino keeps root only in the supervisor (to bind
 * ports and restart children) and drops every child to the user named in
 * the configuration. Started as anyone else, everything runs as that user
 * and these functions change nothing. */
#ifndef POSTINO_PRIVS_H
#define POSTINO_PRIVS_H

#include <stdbool.h>
#include <sys/types.h>

struct privs_user {
    uid_t uid;
    gid_t gid;
    gid_t extra_gid; /* a second group to keep (0: none) */
};

/* True if running as root. */
bool privs_is_root(void);
/* Look up a user. 0, or -1 with a static reason in *error_r. */
int privs_lookup(const char *name, struct privs_user *out, const char **error_r);
/* Become the user for good (groups, gid, uid), if root; checks that root
 * cannot be regained. 0, or -1 with *error_r. */
int privs_drop(const struct privs_user *u, const char **error_r);
/* As root: can user u use path with access(2) mode (searching every
 * directory above it)? Asked in a throw-away child that becomes u, so the
 * answer is the kernel's own. True when not root. */
bool privs_can_access(const struct privs_user *u, const char *path, int mode);
/* Create a system user (no home, no login shell) unless it exists. 0 or -1. */
int privs_ensure_system_user(const char *name, const char **error_r);

#endif
