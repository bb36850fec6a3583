/* supervisor: the process `postino serve` starts as. It binds the ports,
 * forks one process per service (dropping each to its user when started
 * as root), restarts a child that dies, and stops them all on SIGTERM. It
 * runs no event library: a signalfd and poll() are all it needs. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "share/share-policy.h"
#include "lib/log.h"
#include "policy/policy-tables.h"
#include "lib/net.h"
#include "lib/privs.h"
#include "lib/str.h"
#include "queue/spool.h"

#define STOP_GRACE_SECONDS 30
#define MAX_CHILDREN       (64 + 6)

enum child_kind {
    CHILD_SMTPD,
    CHILD_QUEUE,
    CHILD_DELIVER_LOCAL,
    CHILD_DELIVER_SMTP,
    CHILD_IMAPD,
    CHILD_POP3D,
    CHILD_HTTPD,
};

static const char *const kind_names[] = {"smtpd",        "queue", "deliver-local",
                                         "deliver-smtp", "imapd", "pop3d",
                                         "httpd"};

struct child {
    enum child_kind kind;
    pid_t pid; /* 0 when not running */
    time_t started;
    time_t restart_at; /* when to start it again (after a crash) */
    unsigned backoff;  /* seconds */
};

struct supervisor {
    struct config *cfg;
    struct daemon_env env;
    struct child children[MAX_CHILDREN];
    size_t n_children;
    struct privs_user service, mail;
    struct privs_user reader; /* imapd, pop3d: the mail user with the service group */
    bool root;
    int sigfd;
    sigset_t oldmask;
    int lock_fd;
    bool stopping;
};

/* Run one service in a freshly forked child; never returns. */
static _Noreturn void run_child(struct supervisor *s, struct child *c)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    prctl(PR_SET_NAME, kind_names[c->kind]);
    close(s->sigfd);
    close(s->lock_fd);
    /* The stop signals stay blocked until the service has its handlers
     * (daemon_signals_ready): a stop that comes during start-up waits for
     * them, rather than killing the process half set up. */
    sigset_t mask = s->oldmask;
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_SETMASK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    log_open(kind_names[c->kind], (enum log_target)s->cfg->log_target);
    struct daemon_env *env = &s->env;
    /* Keep only the sockets this service uses. */
    if (c->kind != CHILD_SMTPD)
        for (size_t i = 0; i < env->n_smtp_fds; i++)
            close(env->smtp_fds[i]);
    if (c->kind != CHILD_DELIVER_LOCAL)
        close(env->deliver_fd);
    if (c->kind != CHILD_DELIVER_SMTP)
        close(env->smtp_client_fd);
    if (c->kind != CHILD_QUEUE)
        close(env->queue_ctl_fd);
    for (size_t i = 0; i < env->n_access_fds; i++) {
        enum access_service as = env->access_services[i];
        bool imap = as == ACCESS_IMAP || as == ACCESS_IMAPS;
        bool https = as == ACCESS_HTTPS;
        if (!(c->kind == CHILD_IMAPD && imap) && !(c->kind == CHILD_POP3D && !imap && !https) &&
            !(c->kind == CHILD_HTTPD && https))
            close(env->access_fds[i]);
    }
    const struct privs_user *u = c->kind == CHILD_DELIVER_LOCAL ? &s->mail : &s->service;
    if (c->kind == CHILD_IMAPD || c->kind == CHILD_POP3D || c->kind == CHILD_DELIVER_LOCAL)
        u = &s->reader;
    const char *err;
    if (s->root && privs_drop(u, &err) < 0)
        log_fatal("cannot drop privileges: %s", err);
    int rc;
    switch (c->kind) {
    case CHILD_SMTPD:
        rc = smtpd_main(env);
        break;
    case CHILD_QUEUE:
        rc = queue_main(env);
        break;
    case CHILD_DELIVER_SMTP:
        rc = deliver_smtp_main(env);
        break;
    case CHILD_IMAPD:
        rc = imapd_main(env);
        break;
    case CHILD_POP3D:
        rc = pop3d_main(env);
        break;
    case CHILD_HTTPD:
        rc = httpd_main(env);
        break;
    default:
        rc = deliver_local_main(env);
        break;
    }
    config_free(&s->cfg);
    exit(rc);
}

static void start_child(struct supervisor *s, struct child *c)
{
    pid_t pid = fork();
    if (pid < 0) {
        log_error("cannot fork %s: %s", kind_names[c->kind], strerror(errno));
        c->restart_at = time(NULL) + 5;
        return;
    }
    if (pid == 0)
        run_child(s, c);
    c->pid = pid;
    c->started = time(NULL);
    c->restart_at = 0;
}

static struct child *child_by_pid(struct supervisor *s, pid_t pid)
{
    for (size_t i = 0; i < s->n_children; i++)
        if (s->children[i].pid == pid)
            return &s->children[i];
    return NULL;
}

/* Collect exited children; plan restarts unless stopping. */
static void reap(struct supervisor *s)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        struct child *c = child_by_pid(s, pid);
        if (!c)
            continue;
        c->pid = 0;
        bool clean = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        if (s->stopping) {
            if (!clean)
                log_warn("%s[%d] stopped with status %d", kind_names[c->kind], (int)pid,
                         WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
            continue;
        }
        if (WIFSIGNALED(st))
            log_error("%s[%d] was killed by signal %d; restarting", kind_names[c->kind], (int)pid,
                      WTERMSIG(st));
        else
            log_error("%s[%d] exited with status %d; restarting", kind_names[c->kind], (int)pid,
                      WEXITSTATUS(st));
        time_t now = time(NULL);
        /* A child that dies soon after starting is restarted ever later. */
        if (now - c->started < 10)
            c->backoff = c->backoff ? (c->backoff * 2 > 30 ? 30 : c->backoff * 2) : 1;
        else
            c->backoff = 0;
        c->restart_at = now + c->backoff;
    }
}

static bool any_running(const struct supervisor *s)
{
    for (size_t i = 0; i < s->n_children; i++)
        if (s->children[i].pid > 0)
            return true;
    return false;
}

static void signal_all(struct supervisor *s, int sig)
{
    for (size_t i = 0; i < s->n_children; i++)
        if (s->children[i].pid > 0)
            kill(s->children[i].pid, sig);
}

static int open_lock(const struct config *cfg, int *fd_r)
{
    char path[4096];
    daemon_path(cfg, "run/postino.pid", path, sizeof(path));
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        log_fatal("cannot open %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        char pid[32] = "";
        ssize_t n = read(fd, pid, sizeof(pid) - 1);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        log_fatal("another postino serve (pid %s) is using %s", pid[0] ? pid : "?", cfg->data_dir);
    }
    char text[32];
    int n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, text, (size_t)n, 0) != n)
        log_warn("cannot write %s", path);
    *fd_r = fd;
    return 0;
}

/* The listening Unix socket of an internal service, owned by its user
 * and usable by the service user's group (the queue manager connects). */
static int bind_unix(struct supervisor *s, const char *rel, char *path, size_t pathsize,
                     uid_t owner)
{
    daemon_path(s->cfg, rel, path, pathsize);
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (str_copy(sun.sun_path, sizeof(sun.sun_path), path) < 0)
        log_fatal("socket path too long: %s", path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 64) < 0)
        log_fatal("cannot listen on %s: %s", path, strerror(errno));
    chmod(path, 0660);
    if (s->root && chown(path, owner, s->service.gid) < 0)
        log_fatal("cannot chown %s: %s", path, strerror(errno));
    return fd;
}

static void bind_sockets(struct supervisor *s)
{
    struct config *cfg = s->cfg;
    const struct {
        const struct config_list *list;
        enum smtpd_service service;
        const char *key;
    } services[] = {
        {&cfg->smtp_listen, SERVICE_SMTP, "smtp_listen"},
        {&cfg->submission_listen, SERVICE_SUBMISSION, "submission_listen"},
        {&cfg->submissions_listen, SERVICE_SUBMISSIONS, "submissions_listen"},
    };
    for (size_t k = 0; k < sizeof(services) / sizeof(services[0]); k++) {
        const struct config_list *list = services[k].list;
        for (size_t i = 0; i < list->n; i++) {
            if (s->env.n_smtp_fds >= DAEMON_MAX_LISTENERS)
                log_fatal("too many listen addresses");
            struct net_listen_addr a;
            const char *why;
            if (net_parse_listen(list->items[i], &a, &why) < 0)
                log_fatal("%s %s: %s", services[k].key, list->items[i], why);
            int fd = net_listen(&a, (int)cfg->listen_backlog);
            if (fd < 0)
                log_fatal("cannot listen on %s (%s): %s", list->items[i], services[k].key,
                          strerror(errno));
            s->env.smtp_services[s->env.n_smtp_fds] = services[k].service;
            s->env.smtp_fds[s->env.n_smtp_fds++] = fd;
            log_info("%s listening on %s", smtpd_service_name(services[k].service), list->items[i]);
        }
    }
    const struct {
        const struct config_list *list;
        enum access_service service;
        const char *key;
    } access[] = {
        {&cfg->imap_listen, ACCESS_IMAP, "imap_listen"},
        {&cfg->imaps_listen, ACCESS_IMAPS, "imaps_listen"},
        {&cfg->pop3_listen, ACCESS_POP3, "pop3_listen"},
        {&cfg->pop3s_listen, ACCESS_POP3S, "pop3s_listen"},
        {&cfg->https_listen, ACCESS_HTTPS, "https_listen"},
    };
    for (size_t k = 0; k < sizeof(access) / sizeof(access[0]); k++) {
        const struct config_list *list = access[k].list;
        for (size_t i = 0; i < list->n; i++) {
            if (s->env.n_access_fds >= DAEMON_MAX_LISTENERS)
                log_fatal("too many listen addresses");
            struct net_listen_addr a;
            const char *why;
            if (net_parse_listen(list->items[i], &a, &why) < 0)
                log_fatal("%s %s: %s", access[k].key, list->items[i], why);
            int fd = net_listen(&a, (int)cfg->listen_backlog);
            if (fd < 0)
                log_fatal("cannot listen on %s (%s): %s", list->items[i], access[k].key,
                          strerror(errno));
            s->env.access_services[s->env.n_access_fds] = access[k].service;
            s->env.access_fds[s->env.n_access_fds++] = fd;
            log_info("%s listening on %s", access[k].key, list->items[i]);
        }
    }
    s->env.deliver_fd = bind_unix(s, "run/deliver-local.sock", s->env.deliver_path,
                                  sizeof(s->env.deliver_path), s->mail.uid);
    s->env.smtp_client_fd = bind_unix(s, "run/deliver-smtp.sock", s->env.smtp_client_path,
                                      sizeof(s->env.smtp_client_path), s->service.uid);
    s->env.queue_ctl_fd = bind_unix(s, "run/queue.sock", s->env.queue_ctl_path,
                                    sizeof(s->env.queue_ctl_path), s->service.uid);
}

/* imapd, pop3d and deliver-local run as the mail user with the service
 * user's group: they check logins (lockout counters: writes) and quotas in
 * state/postino.db, and imapd and pop3d load the TLS keys. The state directory and database are
 * made group-writable (installations from before IMAP had them 0750/0644), the directory setgid so
 * that what SQLite creates there stays in the service group. */
static void grant_state_to_readers(const struct config *cfg, gid_t gid)
{
    char path[4096];
    daemon_path(cfg, "state", path, sizeof(path));
    if (chmod(path, 02770) < 0)
        log_fatal("cannot chmod %s: %s", path, strerror(errno));
    const char *const files[] = {"state/postino.db", "state/postino.db-wal",
                                 "state/postino.db-shm"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        daemon_path(cfg, files[i], path, sizeof(path));
        if ((chown(path, (uid_t)-1, gid) < 0 || chmod(path, 0660) < 0) && errno != ENOENT)
            log_fatal("cannot chmod %s: %s", path, strerror(errno));
    }
}

static void check_reach(const struct supervisor *s)
{
    const struct {
        const struct privs_user *u;
        const char *name;
        const char *rel;
        int mode;
    } checks[] = {
        {&s->service, s->cfg->service_user, "spool/queue", R_OK | W_OK | X_OK},
        {&s->service, s->cfg->service_user, "state", R_OK | W_OK | X_OK},
        {&s->mail, s->cfg->mail_user, "spool/queue", R_OK | X_OK},
        {&s->mail, s->cfg->mail_user, "mail", R_OK | W_OK | X_OK},
        {&s->reader, s->cfg->mail_user, "state", R_OK | W_OK | X_OK},
    };
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
        char path[4096];
        daemon_path(s->cfg, checks[i].rel, path, sizeof(path));
        if (!privs_can_access(checks[i].u, path, checks[i].mode))
            log_fatal("user %s cannot use %s: every directory above it must be searchable by "
                      "that user (chmod o+x), and %s must belong to it (postino init sets this "
                      "up)",
                      checks[i].name, path, checks[i].rel);
    }
}

int supervisor_main(struct config *cfg)
{
    struct supervisor s;
    memset(&s, 0, sizeof(s));
    s.cfg = cfg;
    s.env.cfg = cfg;
    s.env.deliver_fd = -1;
    s.env.smtp_client_fd = -1;
    s.env.queue_ctl_fd = -1;
    log_open("master", (enum log_target)cfg->log_target);
    log_set_level(cfg->log_level);

    char path[4096];
    daemon_path(cfg, "state/postino.db", path, sizeof(path));
    if (access(path, F_OK) < 0)
        log_fatal("%s does not exist: create the layout with postino init", path);
    s.root = privs_is_root();
    if (s.root) {
        const char *err;
        if (privs_lookup(cfg->service_user, &s.service, &err) < 0)
            log_fatal("service_user %s: %s", cfg->service_user, err);
        if (privs_lookup(cfg->mail_user, &s.mail, &err) < 0)
            log_fatal("mail_user %s: %s", cfg->mail_user, err);
        s.reader = s.mail;
        s.reader.extra_gid = s.service.gid;
        grant_state_to_readers(cfg, s.service.gid);
    }
    if (s.root)
        check_reach(&s);
    daemon_path(cfg, "run", path, sizeof(path));
    if (mkdir(path, 0750) < 0 && errno != EEXIST)
        log_fatal("cannot create %s: %s", path, strerror(errno));
    if (s.root && chown(path, 0, s.service.gid) < 0)
        log_fatal("cannot chown %s: %s", path, strerror(errno));
    /* the share portal's files, for a data directory made before it */
    daemon_path(cfg, "shares", path, sizeof(path));
    if (mkdir(path, 0750) == 0 && s.root && chown(path, s.service.uid, s.service.gid) < 0)
        log_fatal("cannot chown %s: %s", path, strerror(errno));
    /* A bad rule file stops the start here, with its file and line, rather
     * than in smtpd, which would be restarted again and again. */
    struct policy_tables pt;
    char *polerr = NULL;
    if (policy_tables_load(cfg, &pt, &polerr) < 0)
        log_fatal("content policy: %s", polerr);
    policy_tables_free(&pt);
    struct share_policy shp;
    const char *spt = cfg->share_domain_policy ? cfg->share_domain_policy : "";
    if (share_policy_parse(spt, strlen(spt), &shp, &polerr) < 0)
        log_fatal("%s", polerr);
    share_policy_free(&shp);
    open_lock(cfg, &s.lock_fd);
    bind_sockets(&s);

    /* What smtpd processes left half-received was never acknowledged. */
    struct spool sp;
    const char *err;
    if (spool_open(&sp, cfg->data_dir, &err) < 0)
        log_fatal("cannot open the spool under %s: %s", cfg->data_dir, err);
    int cleaned = spool_clean_incoming(&sp);
    if (cleaned > 0)
        log_info("removed %d unacknowledged file%s from spool/incoming", cleaned,
                 cleaned == 1 ? "" : "s");
    cleaned = spool_clean_queue(&sp);
    if (cleaned > 0)
        log_info("cleaned %d file%s left over by an interrupted removal in "
                 "spool/queue",
                 cleaned, cleaned == 1 ? "" : "s");
    spool_close(&sp);

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, &s.oldmask);
    s.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (s.sigfd < 0)
        log_fatal("signalfd: %s", strerror(errno));

    s.children[s.n_children++].kind = CHILD_DELIVER_LOCAL;
    s.children[s.n_children++].kind = CHILD_DELIVER_SMTP;
    s.children[s.n_children++].kind = CHILD_QUEUE;
    for (long long i = 0; i < cfg->smtpd_processes; i++)
        s.children[s.n_children++].kind = CHILD_SMTPD;
    bool imap = false, pop3 = false, https = false;
    for (size_t i = 0; i < s.env.n_access_fds; i++) {
        if (s.env.access_services[i] == ACCESS_IMAP || s.env.access_services[i] == ACCESS_IMAPS)
            imap = true;
        else if (s.env.access_services[i] == ACCESS_HTTPS)
            https = true;
        else
            pop3 = true;
    }
    if (imap)
        s.children[s.n_children++].kind = CHILD_IMAPD;
    if (pop3)
        s.children[s.n_children++].kind = CHILD_POP3D;
    if (https)
        s.children[s.n_children++].kind = CHILD_HTTPD;
    for (size_t i = 0; i < s.n_children; i++)
        start_child(&s, &s.children[i]);
    log_info("postino started as %s; data in %s", s.root ? "root" : "a normal user", cfg->data_dir);

    time_t stop_deadline = 0;
    for (;;) {
        time_t now = time(NULL);
        int timeout = 1000;
        if (!s.stopping) {
            for (size_t i = 0; i < s.n_children; i++) {
                struct child *c = &s.children[i];
                if (c->pid == 0 && c->restart_at && c->restart_at <= now)
                    start_child(&s, c);
            }
        } else {
            if (!any_running(&s))
                break;
            if (now >= stop_deadline) {
                log_warn("children still running after %d s; killing them", STOP_GRACE_SECONDS);
                signal_all(&s, SIGKILL);
                stop_deadline = now + 3600;
            }
        }
        struct pollfd pfd = {.fd = s.sigfd, .events = POLLIN};
        int r = poll(&pfd, 1, timeout);
        if (r < 0 && errno != EINTR)
            log_fatal("poll: %s", strerror(errno));
        struct signalfd_siginfo si;
        while (read(s.sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
            switch (si.ssi_signo) {
            case SIGCHLD:
                reap(&s);
                break;
            case SIGHUP:
                log_info("reload requested");
                signal_all(&s, SIGHUP);
                break;
            default:
                if (!s.stopping) {
                    log_info("stopping on signal %u", si.ssi_signo);
                    s.stopping = true;
                    stop_deadline = time(NULL) + STOP_GRACE_SECONDS;
                    signal_all(&s, SIGTERM);
                }
                break;
            }
        }
    }
    for (size_t i = 0; i < s.env.n_smtp_fds; i++)
        close(s.env.smtp_fds[i]);
    for (size_t i = 0; i < s.env.n_access_fds; i++)
        close(s.env.access_fds[i]);
    close(s.env.deliver_fd);
    unlink(s.env.deliver_path);
    close(s.env.smtp_client_fd);
    unlink(s.env.smtp_client_path);
    close(s.env.queue_ctl_fd);
    unlink(s.env.queue_ctl_path);
    close(s.sigfd);
    close(s.lock_fd);
    log_info("stopped");
    return 0;
}
