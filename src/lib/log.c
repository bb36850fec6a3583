#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "str.h"

static char log_service_name[32] = "postino";
static char log_ident[48] = "postino";
static char log_host[64];
static enum log_target log_target = LOG_TARGET_STDERR;
static int log_level = LOG_INFO;

void log_open(const char *service, enum log_target target)
{
    str_copy(log_service_name, sizeof(log_service_name), service);
    snprintf(log_ident, sizeof(log_ident), "postino/%s", service);
    if (gethostname(log_host, sizeof(log_host)) < 0)
        str_copy(log_host, sizeof(log_host), "localhost");
    log_host[sizeof(log_host) - 1] = '\0';
    char *dot = strchr(log_host, '.');
    if (dot)
        *dot = '\0';
    if (log_target == LOG_TARGET_SYSLOG)
        closelog();
    log_target = target;
    if (target == LOG_TARGET_SYSLOG)
        openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void log_set_level(int priority)
{
    log_level = priority;
}

const char *log_service(void)
{
    return log_service_name;
}

void log_vmsg(int priority, const char *fmt, va_list ap)
{
    if (priority > log_level)
        return;
    int saved = errno;
    if (log_target == LOG_TARGET_SYSLOG) {
        vsyslog(priority, fmt, ap);
        errno = saved;
        return;
    }
    char line[2048];
    size_t n = 0;
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    n = strftime(line, sizeof(line), "%b %e %H:%M:%S ", &tm);
    int k =
        snprintf(line + n, sizeof(line) - n, "%s %s[%ld]: ", log_host[0] ? log_host : "localhost",
                 log_ident, (long)getpid());
    if (k > 0)
        n += (size_t)k < sizeof(line) - n ? (size_t)k : sizeof(line) - n - 1;
    k = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    if (k > 0)
        n += (size_t)k < sizeof(line) - n - 1 ? (size_t)k : sizeof(line) - n - 2;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
    errno = saved;
}

void log_msg(int priority, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(priority, fmt, ap);
    va_end(ap);
}

void log_fatal(const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    log_msg(LOG_CRIT, "fatal: %s", text);
    exit(1);
}

void panic(const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    log_msg(LOG_CRIT, "panic: %s", text);
    abort();
}
