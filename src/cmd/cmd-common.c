#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "auth/password.h"
#include "cmd.h"
#include "lib/privs.h"
#include "lib/str.h"

#define DEFAULT_CONFIG "/etc/postino/postino.conf"

void cmd_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("postino: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cmd_parse_common(int argc, char **argv, struct cmd_common *c, const char *usage)
{
    memset(c, 0, sizeof(*c));
    c->config_path = getenv("POSTINO_CONFIG");
    if (!c->config_path || !*c->config_path)
        c->config_path = DEFAULT_CONFIG;
    int out = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--config") == 0 || strcmp(a, "-c") == 0) {
            if (i + 1 >= argc) {
                cmd_error("%s needs a file name", a);
                return -1;
            }
            c->config_path = argv[++i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            c->config_path = a + 9;
        } else if (strcmp(a, "--json") == 0) {
            c->json = true;
        } else if (strcmp(a, "--password-stdin") == 0) {
            c->password_stdin = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            c->help = true;
        } else if (strcmp(a, "--from") == 0) {
            argv[out++] = (char *)"from"; /* postino queue delete --from ADDRESS */
        } else if (a[0] == '-' && a[1] != '\0') {
            cmd_error("unknown option %s", a);
            fputs(usage, stderr);
            return -1;
        } else {
            argv[out++] = argv[i];
        }
    }
    argv[out] = NULL;
    if (c->help) {
        fputs(usage, stdout);
        return 0;
    }
    return out;
}

struct config *cmd_load_config(const struct cmd_common *c)
{
    char *err = NULL;
    struct config *cfg = config_load(c->config_path, &err);
    if (!cfg) {
        cmd_error("%s", err);
        free(err);
    }
    return cfg;
}

struct state_db *cmd_open_state(const struct config *cfg)
{
    char dir[4096], path[4096];
    if (config_data_path(cfg, "state", dir, sizeof(dir)) < 0 ||
        config_data_path(cfg, "state/postino.db", path, sizeof(path)) < 0) {
        cmd_error("path too long");
        return NULL;
    }
    struct stat st;
    if (stat(path, &st) < 0) {
        cmd_error("%s: %s (create it with postino init)", path, strerror(errno));
        return NULL;
    }
    /* As root, work as the owner of the state so that the server (which
     * runs as that user) can still write every file SQLite creates. */
    if (privs_is_root() && stat(dir, &st) == 0 && st.st_uid != 0) {
        struct privs_user u = {st.st_uid, st.st_gid, 0};
        const char *why;
        if (privs_drop(&u, &why) < 0) {
            cmd_error("cannot become the owner of %s: %s", dir, why);
            return NULL;
        }
    }
    char *err = NULL;
    struct state_db *db = state_db_open(path, false, &err);
    if (!db) {
        cmd_error("%s", err);
        free(err);
    }
    return db;
}

void cmd_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* Read one line from the terminal without echo. */
static int read_noecho(const char *prompt, char *out, size_t outsize)
{
    FILE *tty = fopen("/dev/tty", "r+");
    if (!tty)
        return -1;
    struct termios old, noecho;
    tcgetattr(fileno(tty), &old);
    noecho = old;
    noecho.c_lflag &= (tcflag_t)~ECHO;
    fputs(prompt, tty);
    fflush(tty);
    tcsetattr(fileno(tty), TCSAFLUSH, &noecho);
    char *r = fgets(out, (int)outsize, tty);
    tcsetattr(fileno(tty), TCSAFLUSH, &old);
    fputc('\n', tty);
    fclose(tty);
    if (!r)
        return -1;
    out[strcspn(out, "\r\n")] = '\0';
    return (int)strlen(out);
}

int cmd_read_password(const struct cmd_common *c, char *out, size_t outsize)
{
    if (outsize < PASSWORD_MAX + 1)
        return -1;
    if (c->password_stdin) {
        int n = password_read_fd(STDIN_FILENO, out);
        if (n < 0)
            cmd_error("no usable password on stdin (empty, longer than %d or with control "
                      "characters)",
                      PASSWORD_MAX);
        return n;
    }
    if (!isatty(STDIN_FILENO)) {
        cmd_error("stdin is not a terminal: give the password with --password-stdin");
        return -1;
    }
    char again[PASSWORD_MAX + 2];
    int n = read_noecho("New password: ", out, outsize);
    if (n <= 0 || read_noecho("Again: ", again, sizeof(again)) != n || strcmp(out, again) != 0) {
        cmd_error(n <= 0 ? "no password given" : "the passwords differ");
        return -1;
    }
    return n;
}

int cmd_hash_password(const struct config *cfg, const char *pw, size_t len, char *out)
{
    struct password_cost cost = {
        .memory_kib = (unsigned)(cfg->password_argon2_memory / 1024),
        .time = (unsigned)cfg->password_argon2_time,
        .parallelism = (unsigned)cfg->password_argon2_parallelism,
    };
    const char *err;
    if (password_hash(pw, len, &cost, out, &err) < 0) {
        cmd_error("cannot hash the password: %s", err);
        return -1;
    }
    return 0;
}

int cmd_open(const struct cmd_common *c, struct config **cfg, struct state_db **db)
{
    *db = NULL;
    *cfg = cmd_load_config(c);
    if (!*cfg)
        return -1;
    *db = cmd_open_state(*cfg);
    if (!*db) {
        config_free(cfg);
        return -1;
    }
    return 0;
}

int cmd_close(struct config **cfg, struct state_db **db, char *err, int rc)
{
    if (err) {
        cmd_error("%s", err);
        free(err);
    }
    state_db_close(db);
    config_free(cfg);
    return rc;
}

void cmd_list_begin(struct cmd_list *l, bool json)
{
    l->json = json;
    l->n = 0;
    if (json)
        fputc('[', stdout);
}

bool cmd_list_item(struct cmd_list *l)
{
    if (l->json && l->n > 0)
        fputc(',', stdout);
    l->n++;
    return l->json;
}

void cmd_list_end(struct cmd_list *l)
{
    if (l->json)
        fputs("]\n", stdout);
}
