#include "privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

bool privs_is_root(void)
{
    return geteuid() == 0;
}

int privs_lookup(const char *name, struct privs_user *out, const char **error_r)
{
    errno = 0;
    struct passwd *pw = getpwnam(name);
    if (!pw) {
        *error_r = errno ? strerror(errno) : "no such user";
        return -1;
    }
    out->uid = pw->pw_uid;
    out->gid = pw->pw_gid;
    out->extra_gid = 0;
    return 0;
}

int privs_drop(const struct privs_user *u, const char **error_r)
{
    if (!privs_is_root())
        return 0;
    if (u->uid == 0) {
        *error_r = "refusing to run a service as root";
        return -1;
    }
    gid_t groups[2] = {u->gid, u->extra_gid};
    if (setgroups(u->extra_gid ? 2 : 1, groups) < 0 || setresgid(u->gid, u->gid, u->gid) < 0 ||
        setresuid(u->uid, u->uid, u->uid) < 0) {
        *error_r = strerror(errno);
        return -1;
    }
    if (setuid(0) == 0 || seteuid(0) == 0) {
        *error_r = "root could be regained after dropping privileges";
        return -1;
    }
    return 0;
}

int privs_ensure_system_user(const char *name, const char **error_r)
{
    if (getpwnam(name))
        return 0;
    pid_t pid = fork();
    if (pid < 0) {
        *error_r = strerror(errno);
        return -1;
    }
    if (pid == 0) {
        execl("/usr/sbin/useradd", "useradd", "--system", "--user-group", "--no-create-home",
              "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name, (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !getpwnam(name)) {
        *error_r = "useradd failed";
        return -1;
    }
    return 0;
}

bool privs_can_access(const struct privs_user *u, const char *path, int mode)
{
    if (!privs_is_root())
        return true;
    pid_t pid = fork();
    if (pid < 0)
        return true; /* cannot tell; the service will say */
    if (pid == 0) {
        const char *err;
        if (privs_drop(u, &err) < 0)
            _exit(2);
        _exit(access(path, mode) == 0 ? 0 : 1);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}
