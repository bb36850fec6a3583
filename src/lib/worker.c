#include "worker.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "xalloc.h"

#define MAX_WORKERS 16

struct worker_pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct worker_job *queue, **queue_tail;
    struct worker_job *finished, **finished_tail;
    bool stopping;
    int n;
    pthread_t threads[MAX_WORKERS];
    void *(*thread_init)(void *arg);
    void (*thread_fini)(void *state);
    void *arg;
    int notify[2];
    struct event *notify_ev;
};

static void *worker_main(void *arg)
{
    struct worker_pool *p = arg;
    void *state = p->thread_init ? p->thread_init(p->arg) : NULL;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->queue && !p->stopping)
            pthread_cond_wait(&p->cond, &p->lock);
        if (!p->queue)
            break;
        struct worker_job *job = p->queue;
        p->queue = job->next;
        if (!p->queue)
            p->queue_tail = &p->queue;
        pthread_mutex_unlock(&p->lock);
        job->run(job, state);
        pthread_mutex_lock(&p->lock);
        job->next = NULL;
        *p->finished_tail = job;
        p->finished_tail = &job->next;
        char c = 1;
        ssize_t w = write(p->notify[1], &c, 1);
        (void)w;
    }
    pthread_mutex_unlock(&p->lock);
    if (p->thread_fini)
        p->thread_fini(state);
    return NULL;
}

static void run_finished(struct worker_pool *p)
{
    pthread_mutex_lock(&p->lock);
    struct worker_job *list = p->finished;
    p->finished = NULL;
    p->finished_tail = &p->finished;
    pthread_mutex_unlock(&p->lock);
    while (list) {
        struct worker_job *job = list;
        list = job->next;
        job->done(job);
    }
}

static void on_notify(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    char drain[64];
    while (read(fd, drain, sizeof(drain)) > 0)
        ;
    run_finished(arg);
}

struct worker_pool *worker_pool_new(struct event_base *base, int n, void *(*thread_init)(void *arg),
                                    void (*thread_fini)(void *state), void *arg)
{
    struct worker_pool *p = xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->queue_tail = &p->queue;
    p->finished_tail = &p->finished;
    p->thread_init = thread_init;
    p->thread_fini = thread_fini;
    p->arg = arg;
    if (pipe2(p->notify, O_NONBLOCK | O_CLOEXEC) < 0)
        log_fatal("worker: pipe: %s", strerror(errno));
    p->notify_ev = event_new(base, p->notify[0], EV_READ | EV_PERSIST, on_notify, p);
    event_add(p->notify_ev, NULL);
    p->n = n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : n;
    for (int i = 0; i < p->n; i++)
        if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0)
            log_fatal("worker: cannot start a thread");
    return p;
}

void worker_submit(struct worker_pool *p, struct worker_job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&p->lock);
    *p->queue_tail = job;
    p->queue_tail = &job->next;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

void worker_pool_free(struct worker_pool **pp)
{
    struct worker_pool *p = *pp;
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->n; i++)
        pthread_join(p->threads[i], NULL);
    run_finished(p);
    event_free(p->notify_ev);
    close(p->notify[0]);
    close(p->notify[1]);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    x_free(pp);
}
