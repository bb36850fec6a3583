/* daemon-util: small pieces shared by the daemon processes. */
#include <signal.h>
#include <event2/buffer.h>
#include <stdio.h>

#include "daemon.h"
#include "lib/ipc.h"
#include "lib/log.h"

int daemon_frame_next(struct evbuffer *in, unsigned char **frame, size_t *len)
{
    size_t avail = evbuffer_get_length(in);
    if (avail < 4)
        return 0;
    unsigned char *hdr = evbuffer_pullup(in, 4);
    /* Only the 4-octet header is read; avail tells whether all is there. */
    int r = ipc_frame_peek(hdr, avail, len);
    if (r <= 0)
        return r;
    *frame = evbuffer_pullup(in, (ev_ssize_t)*len);
    return 1;
}

void daemon_path(const struct config *cfg, const char *rel, char *out, size_t outsize)
{
    if (config_data_path(cfg, rel, out, outsize) < 0)
        log_fatal("path too long: %s/%s", cfg->data_dir, rel);
}

const char *smtpd_service_name(enum smtpd_service s)
{
    switch (s) {
    case SERVICE_SMTP:
        return "smtp";
    case SERVICE_SUBMISSION:
        return "submission";
    case SERVICE_SUBMISSIONS:
        return "submissions";
    }
    return "?";
}

void daemon_signals_ready(void)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_UNBLOCK, &mask, NULL);
}
