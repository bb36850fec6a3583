/* ip-count: how many connections each client address has open, for the
 * per-address limits of smtpd, imapd and pop3d. */
#ifndef POSTINO_IP_COUNT_H
#define POSTINO_IP_COUNT_H

struct ip_counts;

/* An empty table. Never NULL. */
struct ip_counts *ip_counts_new(void);
void ip_counts_free(struct ip_counts **t);
/* Change the count of ip (numeric text) by delta: +1 when a connection
 * opens, -1 when it closes. Returns the new count; an address at 0 is
 * forgotten. */
unsigned ip_counts_adjust(struct ip_counts *t, const char *ip, int delta);

#endif
