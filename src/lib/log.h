/* log: syslog-style log lines.
 *
 * Every line reads "Mon DD HH:MM:SS host postino/SERVICE[PID]: text". Lines
 * about a message start their text with the queue ID ("7K3Q9ZD2Q4AB: ...");
 * client input must go through str_printable() before it reaches a line.
 * In the foreground lines go to stderr, each with a single write() so that
 * the processes of one tree never interleave inside a line. */
#ifndef POSTINO_LOG_H
#define POSTINO_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h>

enum log_target {
    LOG_TARGET_STDERR,
    LOG_TARGET_SYSLOG,
};

/* Name the process ("smtpd") and choose where lines go. May be called again
 * after fork() to rename a child. */
void log_open(const char *service, enum log_target target);
/* Lines below this priority (LOG_DEBUG < LOG_INFO ...) are dropped. */
void log_set_level(int priority);
const char *log_service(void);

void log_msg(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(int priority, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#define log_debug(...)  log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)   log_msg(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_warn(...)   log_msg(LOG_WARNING, __VA_ARGS__)
#define log_error(...)  log_msg(LOG_ERR, __VA_ARGS__)

/* The environment makes it impossible to go on (bad config, no disk):
 * log "fatal: ..." and exit(1). */
_Noreturn void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Our own bug: log "panic: ..." and abort(). */
_Noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
