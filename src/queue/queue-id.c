#include "queue-id.h"

#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void queue_id_new(char out[QUEUE_ID_LEN + 1])
{
    static unsigned long long last_us;
    static unsigned seq;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    unsigned long long us =
        (unsigned long long)tv.tv_sec * 1000000ULL + (unsigned long long)tv.tv_usec;
    if (us <= last_us) {
        /* Same microsecond (or the clock stepped back): go on counting. */
        if (++seq >= 1024) {
            seq = 0;
            last_us++;
        }
        us = last_us;
    } else {
        last_us = us;
        /* Start the sequence at a point that differs between processes. */
        seq = (unsigned)getpid() & 0x3ff;
    }
    unsigned long long sec = us / 1000000ULL, usec = us % 1000000ULL;
    unsigned long long v = ((sec & 0x3ffffffffULL) << 30) | (usec << 10) | (seq & 0x3ff);
    /* 13 digits of 5 bits = 65 bits; the top digit holds the top 4 bits. */
    for (int i = QUEUE_ID_LEN - 1; i >= 0; i--) {
        out[i] = alphabet[v & 31];
        v >>= 5;
    }
    out[QUEUE_ID_LEN] = '\0';
}

static int digit(char c)
{
    const char *p = c ? strchr(alphabet, c) : NULL;
    return p ? (int)(p - alphabet) : -1;
}

bool queue_id_valid(const char *s, size_t len)
{
    if (len != QUEUE_ID_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (digit(s[i]) < 0)
            return false;
    return digit(s[0]) < 16;
}

long long queue_id_time(const char *id)
{
    unsigned long long v = 0;
    for (int i = 0; i < QUEUE_ID_LEN; i++)
        v = (v << 5) | (unsigned)digit(id[i]);
    return (long long)(v >> 30);
}
