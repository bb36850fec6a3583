#include "certify-flow.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/x509v3.h>

#include "certify/certify-keys.h"
#include "certify/certify-log.h"
#include "certify/certify-pending.h"
#include "certify/certify-receipt.h"
#include "certify/certify-verify.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "mime/mime-decode.h"
#include "mime/mime-encoded-word.h"
#include "mime/mime-header.h"
#include "mime/mime-parse.h"
#include "queue/queue-inject.h"

#define MAX_SIGNERS         64   /* signing keys kept loaded */
#define CHASE_RETRY         60   /* seconds before the waits are looked at again after a failure */
#define CHASE_IDLE          3600 /* seconds between looks when nothing is outstanding */
#define SUBJECT_DECODED_MAX (64 * 1024) /* octets of a decoded Subject, at most */

struct signer_slot {
    char domain[256];
    struct certify_signer *s;
};

struct certify_flow {
    const struct config *cfg;
    certify_resolve_fn *resolve;
    void *arg;
    X509_STORE *store;   /* trusted services, or NULL */
    char **peer_domains; /* the domains the trusted certificates name */
    size_t n_peer;
    struct signer_slot signers[MAX_SIGNERS];
    size_t n_signers;
    char log_path[CERTIFY_PATH_MAX];
    time_t last_prune;               /* certify_flow_maintain() */
    struct certify_pending *pending; /* the receipts awaited, opened when first needed */
    time_t next_chase;               /* certify_flow_chase(): 0 = look now */
};

/* The domain part of addr (after the last '@'), or "". */
static const char *addr_domain(const char *addr)
{
    const char *at = strrchr(addr, '@');
    return at ? at + 1 : "";
}

static bool our_domain(const struct certify_flow *f, const char *domain)
{
    for (size_t i = 0; i < f->cfg->certified_domains.n; i++)
        if (str_eq_ci(f->cfg->certified_domains.items[i], domain))
            return true;
    return false;
}

bool certify_flow_certified_addr(const struct certify_flow *f, const char *addr)
{
    return f && our_domain(f, addr_domain(addr));
}

/* True if domain is served by a certification service: ours or a peer's. */
static bool certified_domain(const struct certify_flow *f, const char *domain)
{
    if (our_domain(f, domain))
        return true;
    for (size_t i = 0; i < f->n_peer; i++)
        if (str_eq_ci(f->peer_domains[i], domain))
            return true;
    return false;
}

/* Collect the DNS names of the trusted certificates: the peers' domains. */
static void collect_peer_domains(struct certify_flow *f)
{
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(f->store);
    for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
        X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
        if (!x)
            continue;
        GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
        for (int k = 0; names && k < sk_GENERAL_NAME_num(names); k++) {
            const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, k);
            if (g->type != GEN_DNS)
                continue;
            const unsigned char *p = ASN1_STRING_get0_data(g->d.dNSName);
            int n = ASN1_STRING_length(g->d.dNSName);
            if (n <= 0 || n > 253 || memchr(p, '\0', (size_t)n))
                continue;
            f->peer_domains = xrealloc(f->peer_domains, (f->n_peer + 1) * sizeof(char *));
            f->peer_domains[f->n_peer++] = xstrndup((const char *)p, (size_t)n);
        }
        GENERAL_NAMES_free(names);
    }
}

struct certify_flow *certify_flow_new(const struct config *cfg, certify_resolve_fn *resolve,
                                      void *arg)
{
    if (cfg->certified_domains.n == 0)
        return NULL;
    struct certify_flow *f = xcalloc(1, sizeof(*f));
    f->cfg = cfg;
    f->resolve = resolve;
    f->arg = arg;
    char *err = NULL;
    f->store = certify_trust_load(cfg, &err);
    if (!f->store) {
        log_error("certified mail: no trusted certificates: %s", err);
        free(err);
    } else {
        collect_peer_domains(f);
    }
    if (certify_log_path(cfg, f->log_path, sizeof(f->log_path)) < 0)
        f->log_path[0] = '\0';
    return f;
}

void certify_flow_free(struct certify_flow **fp)
{
    struct certify_flow *f = *fp;
    if (!f)
        return;
    for (size_t i = 0; i < f->n_signers; i++)
        certify_signer_free(&f->signers[i].s);
    for (size_t i = 0; i < f->n_peer; i++)
        free(f->peer_domains[i]);
    free(f->peer_domains);
    X509_STORE_free(f->store);
    certify_pending_close(&f->pending);
    x_free(fp);
}

/* The signer of domain's service, loaded once; NULL (logged) if missing. */
static struct certify_signer *signer_for(struct certify_flow *f, const char *domain)
{
    for (size_t i = 0; i < f->n_signers; i++)
        if (str_eq_ci(f->signers[i].domain, domain))
            return f->signers[i].s;
    char *err = NULL;
    struct certify_signer *s = certify_signer_load(f->cfg, domain, &err);
    if (!s) {
        log_error("certified mail: no signing key for %s: %s", domain, err);
        free(err);
        return NULL;
    }
    if (f->n_signers == MAX_SIGNERS)
        certify_signer_free(&f->signers[--f->n_signers].s);
    struct signer_slot *slot = &f->signers[f->n_signers++];
    str_copy(slot->domain, sizeof(slot->domain), domain);
    slot->s = s;
    return s;
}

/* The database of awaited receipts, opened once; NULL (logged) if it
 * cannot be. */
static struct certify_pending *pending_db(struct certify_flow *f)
{
    if (!f->pending) {
        char *err = NULL;
        f->pending = certify_pending_open(f->cfg->data_dir, &err);
        if (!f->pending) {
            log_error("certified mail: cannot open the awaited receipts: %s", err);
            free(err);
        }
    }
    return f->pending;
}

/* The value of the first header field name of msg, without trailing
 * white space, into *value and *n. False if there is none. */
static bool header_find(const char *msg, size_t len, const char *name, const char **value,
                        size_t *n)
{
    size_t hlen = queue_header_length(msg, len), pos = 0;
    struct mime_field fld;
    while (mime_header_next(msg, hlen, &pos, &fld) == 1) {
        if (!mime_field_is(&fld, name))
            continue;
        size_t k = fld.value_len;
        while (k && (fld.value[k - 1] == ' ' || fld.value[k - 1] == '\t' ||
                     fld.value[k - 1] == '\r' || fld.value[k - 1] == '\n'))
            k--;
        *value = fld.value;
        *n = k;
        return true;
    }
    return false;
}

/* The value of the first header field name of msg, unfolded and cleaned,
 * into out ("" if none). */
static void header_get(const char *msg, size_t len, const char *name, char *out, size_t outsize)
{
    const char *v;
    size_t n;
    out[0] = '\0';
    if (header_find(msg, len, name, &v, &n))
        certify_text_clean(out, outsize, v, n);
}

/* Like header_get, for a text field (Subject): its RFC 2047 encoded words
 * decoded, so that the data part carries what the reader saw. A value
 * that decodes to more than SUBJECT_DECODED_MAX octets is taken as
 * written (the decoder keeps a run of words in one charset whole or not
 * at all). */
static void header_get_text(const char *msg, size_t len, const char *name, char *out,
                            size_t outsize)
{
    const char *v;
    size_t n;
    out[0] = '\0';
    if (!header_find(msg, len, name, &v, &n))
        return;
    struct buf dec;
    buf_init(&dec, SUBJECT_DECODED_MAX);
    if (mime_encoded_words_decode(v, n, &dec) == 0)
        certify_text_clean(out, outsize, buf_cstr(&dec), dec.len);
    else
        certify_text_clean(out, outsize, v, n);
    buf_free(&dec);
}

/* The address of a From value: inside the last <>, else the whole value. */
static void from_address(const char *value, char *out, size_t outsize)
{
    const char *lt = strrchr(value, '<');
    const char *gt = lt ? strchr(lt, '>') : NULL;
    if (lt && gt)
        str_copyn(out, outsize, lt + 1, (size_t)(gt - lt - 1));
    else
        str_copy(out, outsize, value);
    /* trim */
    size_t n = strlen(out), s = 0;
    while (s < n && out[s] == ' ')
        s++;
    while (n > s && out[n - 1] == ' ')
        n--;
    memmove(out, out + s, n - s);
    out[n - s] = '\0';
}

/* The local time zone offset of t, in minutes. */
static int zone_of(time_t t)
{
    struct tm tm;
    if (!localtime_r(&t, &tm))
        return 0;
    long off = tm.tm_gmtoff / 60;
    return off < -1439 || off > 1439 ? 0 : (int)off;
}

/* Fill the common fields of d from the original message. */
static void data_from_message(struct certify_data *d, enum certify_type t, const char *msg,
                              size_t len, const char *sender, const char *service)
{
    certify_data_init(d);
    d->type = t;
    certify_text_clean(d->sender, sizeof(d->sender), sender, strlen(sender));
    header_get_text(msg, len, "Subject", d->subject, sizeof(d->subject));
    header_get(msg, len, "Message-ID", d->msgid, sizeof(d->msgid));
    str_copy(d->service, sizeof(d->service), service);
    certify_new_id(service, d->id);
    d->time = time(NULL);
    d->zone_minutes = zone_of(d->time);
    if (msg)
        certify_sha256_hex(msg, len, d->original_sha256);
}

/* Append a record of d's event for rcpt to the evidence log. */
static void log_event(struct certify_flow *f, const char *qid, const struct certify_data *d,
                      const char *event, const char *rcpt, const char *detail)
{
    if (!f->log_path[0])
        return;
    struct certify_log_record rec = {0};
    str_copy(rec.event, sizeof(rec.event), event);
    str_copy(rec.queue_id, sizeof(rec.queue_id), qid ? qid : "");
    str_copy(rec.msgid, sizeof(rec.msgid), d->msgid);
    str_copy(rec.id, sizeof(rec.id), d->id);
    str_copy(rec.sender, sizeof(rec.sender), d->sender);
    if (rcpt) {
        str_copy(rec.rcpt, sizeof(rec.rcpt), rcpt);
    } else {
        struct buf b;
        buf_init(&b, sizeof(rec.rcpt) - 1);
        for (size_t i = 0; i < d->n_rcpts; i++)
            if (buf_printf(&b, "%s%s", i ? "," : "", d->rcpts[i].addr) < 0)
                break;
        str_copy(rec.rcpt, sizeof(rec.rcpt), buf_cstr(&b));
        buf_free(&b);
    }
    str_copy(rec.detail, sizeof(rec.detail), detail ? detail : "");
    char *err = NULL;
    if (certify_log_append(f->log_path, &rec, &err) < 0) {
        log_error("%s: certified mail: cannot write the evidence log: %s", qid ? qid : "-", err);
        free(err);
    }
}

/* Queue msg for to (through the process's resolver) from sender. The new
 * queue ID into id_out. 0 or -1 (logged). */
static int inject(struct certify_flow *f, const char *qid, const char *sender, const char *to,
                  const struct buf *msg, char id_out[QUEUE_ID_LEN + 1])
{
    struct envelope env;
    envelope_init(&env);
    env.sender = xstrdup(sender);
    int rc = -1;
    if (!f->resolve(f->arg, to, &env) || env.nrcpts == 0) {
        log_warn("%s: certified mail: <%s> cannot be delivered to; nothing sent", qid, to);
        goto out;
    }
    const char *why = NULL;
    if (queue_inject(f->cfg, &env, msg->data, msg->len, "certified mail", &why) < 0) {
        log_error("%s: certified mail: cannot queue a message for <%s>: %s", qid, to, why);
        goto out;
    }
    memcpy(id_out, env.id, QUEUE_ID_LEN + 1);
    rc = 0;
out:
    envelope_free(&env);
    return rc;
}

/* Build the certified message of d (signed by d->service) and queue it
 * from the null sender to `to`; log the event. 0 or -1 (logged). */
static int send_signed(struct certify_flow *f, const char *qid, const struct certify_data *d,
                       const char *to, const char *original, size_t original_len, bool attach,
                       const char *rcpt_logged, const char *detail)
{
    struct certify_signer *s = signer_for(f, d->service);
    if (!s)
        return -1;
    struct certify_build b = {
        .data = d,
        .to = to,
        .original = original,
        .original_len = original_len,
        .attach_original = attach,
    };
    struct buf out;
    buf_init(&out, (size_t)CERTIFY_MESSAGE_MAX);
    char *err = NULL;
    int rc = -1;
    if (certify_receipt_build(s, &b, &out, &err) < 0) {
        log_error("%s: certified mail: cannot make the %s: %s", qid, certify_type_name(d->type),
                  err);
        free(err);
        goto out;
    }
    char id[QUEUE_ID_LEN + 1];
    if (inject(f, qid, "", to, &out, id) < 0)
        goto out;
    log_info("%s: certified mail: %s for <%s> queued as %s (identifier %s)", qid,
             certify_type_name(d->type), to, id, d->id);
    char text[CERTIFY_LOG_FIELD_MAX];
    str_format(text, sizeof(text), "%s%sto <%s> as %s", detail ? detail : "", detail ? "; " : "",
               to, id);
    log_event(f, qid, d, certify_type_name(d->type), rcpt_logged, text);
    rc = 0;
out:
    buf_free(&out);
    return rc;
}

struct certify_deferred {
    char qid[CERTIFY_PENDING_QID_MAX];
    struct certify_data d; /* owned */
    char to[CERTIFY_ADDR_MAX];
    char detail[CERTIFY_LOG_FIELD_MAX];
    struct certify_deferred *next;
};

/* Leave the receipt *d (taken over: *d is zeroed) for `to` to be sent once
 * s's message is committed (certify_flow_deferred_run). */
static void defer_signed(struct certify_submit *s, struct certify_data *d, const char *to,
                         const char *detail)
{
    struct certify_deferred *x = xcalloc(1, sizeof(*x));
    str_copy(x->qid, sizeof(x->qid), s->qid);
    x->d = *d;
    memset(d, 0, sizeof(*d));
    str_copy(x->to, sizeof(x->to), to);
    str_copy(x->detail, sizeof(x->detail), detail ? detail : "");
    struct certify_deferred **tail = &s->deferred;
    while (*tail)
        tail = &(*tail)->next;
    *tail = x;
}

void certify_flow_deferred_run(struct certify_flow *f, struct certify_deferred **list,
                               bool committed)
{
    struct certify_deferred *x = *list;
    *list = NULL;
    while (x) {
        struct certify_deferred *next = x->next;
        if (f && committed)
            send_signed(f, x->qid, &x->d, x->to, NULL, 0, false, NULL,
                        x->detail[0] ? x->detail : NULL);
        else if (f)
            log_info("%s: certified mail: no %s for <%s>: the message was not queued", x->qid,
                     certify_type_name(x->d.type), x->to);
        certify_data_free(&x->d);
        free(x);
        x = next;
    }
}

void certify_flow_refused(struct certify_flow *f, const char *qid, const char *sender,
                          bool submission, const char *msg, size_t len, enum certify_error error,
                          const char *why)
{
    if (!f || !submission || !certify_flow_certified_addr(f, sender))
        return;
    struct certify_data d;
    data_from_message(&d, CERTIFY_NON_ACCEPTANCE, msg, msg ? len : 0, sender, addr_domain(sender));
    d.error = error;
    certify_text_clean(d.error_ext, sizeof(d.error_ext), why, strlen(why));
    send_signed(f, qid, &d, sender, NULL, 0, false, NULL, why);
    certify_data_free(&d);
}

/* The recipients of env with their certified / external mark. */
static void add_recipients(const struct certify_flow *f, struct certify_data *d,
                           const struct envelope *env)
{
    for (size_t i = 0; i < env->nrcpts; i++) {
        const char *why;
        const char *a = env->rcpts[i].orig ? env->rcpts[i].orig : env->rcpts[i].addr;
        if (certify_data_add_recipient(d, a, certified_domain(f, addr_domain(a)), &why) < 0)
            break;
    }
}

/* A certified user's submission: refuse it, or replace it by its
 * transport envelope and send the acceptance receipt. */
static enum certify_submit_action submit_certified(struct certify_flow *f, struct certify_submit *s)
{
    const struct envelope *env = s->env;
    char from[CERTIFY_TEXT_MAX], addr[CERTIFY_TEXT_MAX], kind_text[64], marker[64];
    header_get(s->msg, s->len, "From", from, sizeof(from));
    from_address(from, addr, sizeof(addr));
    header_get(s->msg, s->len, CERTIFY_HDR_RECEIPT_TYPE, kind_text, sizeof(kind_text));
    header_get(s->msg, s->len, CERTIFY_HDR_TYPE, marker, sizeof(marker));
    int kind = kind_text[0] ? certify_receipt_kind_from_name(kind_text) : CERTIFY_RECEIPT_COMPLETE;
    const char *why = NULL;
    enum certify_error error = CERTIFY_ERR_POLICY;
    if (!str_eq_ci(addr, env->sender))
        why = "the From address is not the sender's address";
    else if (marker[0])
        why = "a certified message cannot be sent again as it is";
    else if (kind < 0) {
        why = "X-Certified-Receipt-Type must be complete, short or summary";
        error = CERTIFY_ERR_FORMAT;
    }
    if (why) {
        certify_flow_refused(f, s->qid, env->sender, true, s->msg, s->len, error, why);
        str_copy(s->enh, sizeof(s->enh), "5.7.1");
        str_format(s->reply, sizeof(s->reply), "Certified mail not accepted: %s", why);
        return CERTIFY_REFUSE;
    }
    const char *service = addr_domain(env->sender);
    struct certify_signer *signer = signer_for(f, service);
    if (!signer) {
        /* Without its key the service cannot certify anything: say so
         * rather than send uncertified mail as if it were. */
        str_copy(s->enh, sizeof(s->enh), "4.7.0");
        str_format(s->reply, sizeof(s->reply), "Certified mail service unavailable, try later");
        return CERTIFY_REFUSE;
    }
    struct certify_data d;
    data_from_message(&d, CERTIFY_TRANSPORT, s->msg, s->len, env->sender, service);
    add_recipients(f, &d, env);
    d.has_receipt_kind = true;
    d.receipt = (enum certify_receipt_kind)kind;
    char to[CERTIFY_TEXT_MAX];
    header_get(s->msg, s->len, "To", to, sizeof(to));
    if (!to[0])
        str_copy(to, sizeof(to), "undisclosed-recipients:;");
    struct certify_build b = {
        .data = &d,
        .to = to,
        .reply_to = env->sender,
        .original = s->msg,
        .original_len = s->len,
        .attach_original = true,
    };
    char *err = NULL;
    if (certify_receipt_build(signer, &b, s->replacement, &err) < 0) {
        log_error("%s: certified mail: cannot make the transport envelope: %s", s->qid, err);
        free(err);
        certify_data_free(&d);
        str_copy(s->enh, sizeof(s->enh), "4.3.0");
        str_format(s->reply, sizeof(s->reply), "Temporary failure of the certified mail service");
        return CERTIFY_REFUSE;
    }
    log_info("%s: certified mail: transport envelope %s, receipt %s", s->qid, d.id,
             certify_receipt_kind_name(d.receipt));
    log_event(f, s->qid, &d, "transport", NULL, certify_receipt_kind_name(d.receipt));
    /* The acceptance receipt: the same facts, its own identifier. */
    struct certify_data a = d;
    a.type = CERTIFY_ACCEPTANCE;
    a.has_receipt_kind = false;
    certify_new_id(service, a.id);
    defer_signed(s, &a, env->sender, NULL); /* takes over d's recipients */
    return CERTIFY_REPLACED;
}

/* A copy of the message, wrapped in an anomaly envelope, for the
 * recipients marked in take (they are removed from s->env). */
static void wrap_anomaly(struct certify_flow *f, struct certify_submit *s, const bool *take,
                         const char *why)
{
    struct envelope *env = s->env;
    const char *service = NULL;
    for (size_t i = 0; i < env->nrcpts && !service; i++)
        if (take[i])
            service = addr_domain(env->rcpts[i].addr);
    struct certify_signer *signer = service ? signer_for(f, service) : NULL;
    if (!signer)
        return; /* logged: delivered as it is */
    struct certify_data d;
    data_from_message(&d, CERTIFY_ANOMALY, s->msg, s->len, env->sender, service);
    struct envelope copy;
    envelope_init(&copy);
    copy.sender = xstrdup(env->sender);
    for (size_t i = 0; i < env->nrcpts; i++) {
        if (!take[i])
            continue;
        const struct envelope_rcpt *r = &env->rcpts[i];
        const char *why_add;
        certify_data_add_recipient(&d, r->addr, true, &why_add);
        envelope_add_rcpt(&copy, r->addr, r->orig, r->orcpt, r->notify, r->route);
    }
    str_copy(d.error_ext, sizeof(d.error_ext), why);
    char to[CERTIFY_TEXT_MAX];
    header_get(s->msg, s->len, "To", to, sizeof(to));
    if (!to[0])
        str_copy(to, sizeof(to), "undisclosed-recipients:;");
    struct certify_build b = {.data = &d,
                              .to = to,
                              .reply_to = env->sender[0] ? env->sender : NULL,
                              .original = s->msg,
                              .original_len = s->len,
                              .attach_original = true};
    struct buf out;
    buf_init(&out, (size_t)CERTIFY_MESSAGE_MAX);
    char *err = NULL;
    const char *qerr = NULL;
    if (certify_receipt_build(signer, &b, &out, &err) < 0) {
        log_error("%s: certified mail: cannot make the anomaly envelope: %s", s->qid, err);
        free(err);
    } else if (queue_inject(f->cfg, &copy, out.data, out.len, "certified mail", &qerr) < 0) {
        log_error("%s: certified mail: cannot queue the anomaly envelope: %s", s->qid, qerr);
    } else {
        log_info("%s: certified mail: anomaly envelope %s (%s) queued as %s", s->qid, d.id, why,
                 copy.id);
        char text[CERTIFY_LOG_FIELD_MAX];
        str_format(text, sizeof(text), "%s; queued as %s", why, copy.id);
        log_event(f, s->qid, &d, "anomaly", NULL, text);
        for (size_t i = env->nrcpts; i-- > 0;)
            if (take[i])
                envelope_remove_rcpt(env, i);
    }
    buf_free(&out);
    envelope_free(&copy);
    certify_data_free(&d);
}

/* A verified receipt d arrived: if it is the answer a handed-over
 * recipient waits for (a delivery receipt or delivery-failure notice,
 * from that recipient's service), the wait ends. True if one did. */
static bool note_answer(struct certify_flow *f, const char *qid, const struct certify_data *d)
{
    if ((d->type != CERTIFY_DELIVERY && d->type != CERTIFY_DELIVERY_FAILURE) || !d->delivery[0] ||
        !d->msgid[0] || !str_eq_ci(addr_domain(d->delivery), d->service))
        return false;
    struct certify_pending *p = pending_db(f);
    const char *why;
    int rc = p ? certify_pending_answer(p, d->msgid, d->delivery, time(NULL), &why) : -1;
    if (rc < 0 && p)
        log_error("%s: certified mail: cannot note the %s for <%s>: %s", qid,
                  certify_type_name(d->type), d->delivery, why);
    return rc > 0;
}

/* Mail for our certified mailboxes from elsewhere. */
static enum certify_submit_action receive(struct certify_flow *f, struct certify_submit *s)
{
    struct envelope *env = s->env;
    bool *take = xcalloc(env->nrcpts ? env->nrcpts : 1, sizeof(bool));
    size_t n = 0;
    const char *service = NULL;
    for (size_t i = 0; i < env->nrcpts; i++) {
        if (env->rcpts[i].route == ROUTE_LOCAL &&
            certify_flow_certified_addr(f, env->rcpts[i].addr)) {
            take[i] = true;
            n++;
            if (!service)
                service = addr_domain(env->rcpts[i].addr);
        }
    }
    if (n == 0) {
        free(take);
        return CERTIFY_STORE;
    }
    char type[64];
    header_get(s->msg, s->len, CERTIFY_HDR_TYPE, type, sizeof(type));
    if (!type[0]) {
        wrap_anomaly(f, s, take, "not certified mail");
        free(take);
        return CERTIFY_STORE;
    }
    struct certify_verify_result r;
    certify_verify(s->msg, s->len, f->store, &r);
    if (r.verdict != CERTIFY_VALID) {
        char why[300];
        str_format(why, sizeof(why), "certified mail that does not verify (%s: %s)",
                   certify_verdict_name(r.verdict), r.reason);
        wrap_anomaly(f, s, take, why);
    } else if (r.data.type == CERTIFY_TRANSPORT) {
        /* Taken in charge: the sender hears it from this service. */
        struct certify_data t;
        certify_data_init(&t);
        t.type = CERTIFY_TAKING_IN_CHARGE;
        str_copy(t.sender, sizeof(t.sender), r.data.sender);
        str_copy(t.subject, sizeof(t.subject), r.data.subject);
        str_copy(t.msgid, sizeof(t.msgid), r.data.msgid);
        str_copy(t.original_sha256, sizeof(t.original_sha256), r.data.original_sha256);
        str_copy(t.service, sizeof(t.service), service);
        certify_new_id(service, t.id);
        t.time = time(NULL);
        t.zone_minutes = zone_of(t.time);
        for (size_t i = 0; i < env->nrcpts; i++) {
            const char *why;
            if (take[i])
                certify_data_add_recipient(&t, env->rcpts[i].addr, true, &why);
        }
        char detail[CERTIFY_LOG_FIELD_MAX];
        str_format(detail, sizeof(detail), "transport envelope %s from %s", r.data.id,
                   r.data.service);
        defer_signed(s, &t, r.data.sender, detail);
    } else {
        bool answered = note_answer(f, s->qid, &r.data);
        char detail[CERTIFY_LOG_FIELD_MAX];
        str_format(detail, sizeof(detail), "received %s %s from %s%s",
                   certify_type_name(r.data.type), r.data.id, r.data.service,
                   answered ? "; no longer awaited" : "");
        log_event(f, s->qid, &r.data, "received", NULL, detail);
    }
    certify_data_free(&r.data);
    free(take);
    return CERTIFY_STORE;
}

enum certify_submit_action certify_flow_submit(struct certify_flow *f, struct certify_submit *s)
{
    s->enh[0] = s->reply[0] = '\0';
    if (!f)
        return CERTIFY_STORE;
    if (s->submission && certify_flow_certified_addr(f, s->env->sender))
        return submit_certified(f, s);
    return receive(f, s);
}

bool certify_flow_is_envelope(const char *hdr, size_t len)
{
    char v[64];
    header_get(hdr, len, CERTIFY_HDR_TRANSPORT, v, sizeof(v));
    return str_eq_ci(v, "envelope");
}

/* The data part and the enclosed original of a transport envelope. */
static int read_envelope(const char *msg, size_t len, struct certify_data *d, size_t *orig_off,
                         size_t *orig_len)
{
    struct mime_message *m = mime_message_parse(msg, len);
    int rc = -1;
    const struct mime_part *mixed = m->root->children;
    certify_data_init(d);
    *orig_off = *orig_len = 0;
    if (!mixed || !mixed->content.type || !str_eq_ci(mixed->content.type, "multipart"))
        goto out;
    for (const struct mime_part *c = mixed->children; c; c = c->next) {
        if (!c->content.type)
            continue;
        if (str_eq_ci(c->content.type, "application") && str_eq_ci(c->content.subtype, "xml")) {
            struct buf xml;
            buf_init(&xml, CERTIFY_DATA_MAX);
            const char *why;
            if (mime_decode_body(c->content.encoding, msg + c->body_off, c->body_len, &xml) == 0) {
                certify_data_free(d);
                if (certify_data_parse(xml.data ? xml.data : "", xml.len, d, &why) == 0)
                    rc = 0;
            }
            buf_free(&xml);
        } else if (str_eq_ci(c->content.type, "message")) {
            *orig_off = c->body_off;
            *orig_len = c->body_len;
        }
    }
out:
    mime_message_free(&m);
    return rc;
}

/* The facts of the transport envelope env that every receipt about it
 * repeats, for recipient rcpt, into d (initialized here). */
static void data_from_envelope(struct certify_data *d, const struct certify_data *env,
                               const char *rcpt)
{
    certify_data_init(d);
    str_copy(d->sender, sizeof(d->sender), env->sender);
    str_copy(d->subject, sizeof(d->subject), env->subject);
    str_copy(d->msgid, sizeof(d->msgid), env->msgid);
    str_copy(d->original_sha256, sizeof(d->original_sha256), env->original_sha256);
    for (size_t i = 0; i < env->n_rcpts; i++) {
        const char *why;
        certify_data_add_recipient(d, env->rcpts[i].addr, env->rcpts[i].certified, &why);
    }
    str_copy(d->delivery, sizeof(d->delivery), rcpt);
    d->time = time(NULL);
    d->zone_minutes = zone_of(d->time);
}

/* A failure, warning or final notice (o) about rcpt of the transport
 * envelope env, from the sender's service (ours, or nothing is sent).
 * detail goes to the evidence log (reason if NULL). True if sent. */
static bool notify_sender(struct certify_flow *f, const char *qid, const struct certify_data *env,
                          const char *rcpt, enum certify_outcome o, const char *reason,
                          const char *detail)
{
    if (!certify_flow_certified_addr(f, env->sender))
        return false;
    struct certify_data d;
    data_from_envelope(&d, env, rcpt);
    str_copy(d.service, sizeof(d.service), addr_domain(env->sender));
    certify_new_id(d.service, d.id);
    d.type = o == CERTIFY_OUT_FAILED    ? CERTIFY_DELIVERY_FAILURE
             : o == CERTIFY_OUT_WARNING ? CERTIFY_WARNING
                                        : CERTIFY_FINAL_FAILURE;
    d.error =
        o == CERTIFY_OUT_FAILED
            ? (reason && strstr(reason, "5.1.1") ? CERTIFY_ERR_NO_DESTINATION : CERTIFY_ERR_OTHER)
            : CERTIFY_ERR_TIMEOUT;
    if (reason)
        certify_text_clean(d.error_ext, sizeof(d.error_ext), reason, strlen(reason));
    bool sent =
        send_signed(f, qid, &d, env->sender, NULL, 0, false, rcpt, detail ? detail : reason) == 0;
    certify_data_free(&d);
    return sent;
}

bool certify_flow_outcome(struct certify_flow *f, const char *qid, const char *msg, size_t len,
                          const char *rcpt, enum certify_outcome o, const char *reason)
{
    if (!f)
        return false;
    struct certify_data env;
    size_t ooff, olen;
    if (read_envelope(msg, len, &env, &ooff, &olen) < 0 || env.type != CERTIFY_TRANSPORT) {
        certify_data_free(&env);
        return false;
    }
    bool sent = false;
    if (o != CERTIFY_OUT_DELIVERED) {
        /* Failures and delays are told by the sender's service. */
        sent = notify_sender(f, qid, &env, rcpt, o, reason, NULL);
        certify_data_free(&env);
        return sent;
    }
    if (!certify_flow_certified_addr(f, rcpt)) {
        certify_data_free(&env);
        return false;
    }
    struct certify_data d;
    data_from_envelope(&d, &env, rcpt);
    const char *orig = olen ? msg + ooff : NULL;
    d.type = CERTIFY_DELIVERY;
    str_copy(d.service, sizeof(d.service), addr_domain(rcpt));
    d.has_receipt_kind = true;
    d.receipt = env.has_receipt_kind ? env.receipt : CERTIFY_RECEIPT_COMPLETE;
    const char *why;
    if (d.receipt == CERTIFY_RECEIPT_SHORT && orig && certify_hash_parts(orig, olen, &d, &why) < 0)
        log_warn("%s: certified mail: part hashes: %s", qid, why);
    certify_new_id(d.service, d.id);
    bool attach = d.receipt == CERTIFY_RECEIPT_COMPLETE && orig;
    sent = send_signed(f, qid, &d, env.sender, orig, olen, attach, rcpt, NULL) == 0;
    certify_data_free(&d);
    certify_data_free(&env);
    return sent;
}

/* A duration of the configuration in words: "12h", "90m", "30s". */
static void format_duration(char *out, size_t size, long long s)
{
    if (s % 3600 == 0)
        str_format(out, size, "%lldh", s / 3600);
    else if (s % 60 == 0)
        str_format(out, size, "%lldm", s / 60);
    else
        str_format(out, size, "%llds", s);
}

bool certify_flow_handed_over(struct certify_flow *f, const char *qid, const char *msg, size_t len,
                              const char *rcpt, const char *relay)
{
    const char *domain = addr_domain(rcpt);
    if (!f || our_domain(f, domain) || !certified_domain(f, domain))
        return false;
    struct certify_data env;
    size_t ooff, olen;
    bool added = false;
    struct buf xml;
    buf_init(&xml, CERTIFY_DATA_MAX);
    if (read_envelope(msg, len, &env, &ooff, &olen) < 0 || env.type != CERTIFY_TRANSPORT ||
        !certify_flow_certified_addr(f, env.sender))
        goto out;
    if (!env.msgid[0]) {
        log_warn("%s: certified mail: no Message-ID: the delivery receipt for <%s> cannot be "
                 "awaited",
                 qid, rcpt);
        goto out;
    }
    struct certify_pending *p = pending_db(f);
    const char *why;
    if (!p)
        goto out;
    if (certify_data_write(&env, &xml, &why) < 0) {
        log_error("%s: certified mail: %s", qid, why);
        goto out;
    }
    time_t now = time(NULL);
    time_t warn_at = now + (time_t)f->cfg->certified_warning_after;
    time_t fail_at = now + (time_t)f->cfg->certified_failure_after;
    int rc = certify_pending_add(p, qid, env.msgid, rcpt, now, warn_at, fail_at, xml.data, xml.len,
                                 &why);
    if (rc < 0) {
        log_error("%s: certified mail: cannot await the delivery receipt for <%s>: %s", qid, rcpt,
                  why);
        goto out;
    }
    added = rc > 0;
    char warn[32], fail[32], detail[CERTIFY_LOG_FIELD_MAX];
    format_duration(warn, sizeof(warn), f->cfg->certified_warning_after);
    format_duration(fail, sizeof(fail), f->cfg->certified_failure_after);
    str_format(detail, sizeof(detail), "handed over to %s%s%s; %s", domain, relay ? " by " : "",
               relay ? relay : "",
               added ? "delivery receipt awaited" : "delivery receipt already received");
    log_event(f, qid, &env, "handover", rcpt, detail);
    if (added) {
        log_info("%s: certified mail: delivery receipt for <%s> awaited (warning after %s, final "
                 "notice after %s)",
                 qid, rcpt, warn, fail);
        time_t due = warn_at < fail_at ? warn_at : fail_at;
        if (f->next_chase > due) /* 0: looked at on the next call anyway */
            f->next_chase = due;
    }
out:
    buf_free(&xml);
    certify_data_free(&env);
    return added;
}

/* Send what one overdue wait calls for (certify_pending_due). */
static bool chase_one(const struct certify_pending_entry *e, void *arg)
{
    struct certify_flow *f = arg;
    struct certify_data env;
    const char *why;
    if (certify_data_parse(e->xml, e->xml_len, &env, &why) < 0) {
        /* Written by us: it cannot be, but must not come back forever. */
        log_error("%s: certified mail: the awaited receipt for <%s> is unreadable (%s); dropped",
                  e->qid, e->rcpt, why);
        certify_data_free(&env);
        return true;
    }
    if (!certify_flow_certified_addr(f, env.sender)) {
        /* No longer one of our certified domains: nobody to tell. */
        certify_data_free(&env);
        return true;
    }
    bool final = e->step == CERTIFY_PENDING_FINAL;
    char after[32], reason[CERTIFY_TEXT_MAX];
    format_duration(after, sizeof(after),
                    final ? f->cfg->certified_failure_after : f->cfg->certified_warning_after);
    str_format(reason, sizeof(reason),
               "no delivery receipt from the certification service of %s %s after the handover",
               addr_domain(e->rcpt), after);
    bool sent = notify_sender(f, e->qid, &env, e->rcpt,
                              final ? CERTIFY_OUT_EXPIRED : CERTIFY_OUT_WARNING, reason, NULL);
    if (sent)
        log_info("%s: certified mail: to=<%s>, %s: %s", e->qid, e->rcpt,
                 final ? "final notice" : "warning", reason);
    certify_data_free(&env);
    return sent;
}

void certify_flow_chase(struct certify_flow *f, time_t now)
{
    if (!f || (f->next_chase && now < f->next_chase))
        return;
    struct certify_pending *p = pending_db(f);
    if (!p) {
        f->next_chase = now + CHASE_RETRY;
        return;
    }
    const char *why;
    int n = certify_pending_due(p, now, chase_one, f, &why);
    if (n < 0)
        log_error("certified mail: awaited receipts: %s", why);
    time_t next = certify_pending_next(p);
    if (n == CERTIFY_PENDING_BATCH)
        next = now + 1; /* more of them */
    else if (next == 0)
        next = now + CHASE_IDLE;
    else if (next < 0 || next <= now)
        next = now + CHASE_RETRY; /* failed: not every second */
    f->next_chase = next;
}

void certify_flow_maintain(struct certify_flow *f, time_t now)
{
    if (!f || (f->last_prune && now - f->last_prune < 86400))
        return;
    f->last_prune = now;
    if (f->pending && certify_pending_prune(f->pending, now - CERTIFY_PENDING_KEEP) < 0)
        log_error("certified mail: the concluded waits for receipts not pruned");
    if (!f->log_path[0])
        return;
    size_t n = 0;
    char *err = NULL;
    time_t before = certify_log_cutoff(now, f->cfg->certified_log_retention);
    if (certify_log_prune(f->log_path, before, &n, &err) < 0) {
        log_error("certified mail: evidence log not pruned: %s", err);
        free(err);
    } else if (n) {
        log_info("certified mail: %zu evidence records older than %lld months pruned "
                 "(certified_log_retention)",
                 n, f->cfg->certified_log_retention);
    }
}
