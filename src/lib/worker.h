/* worker: run blocking jobs (password hashing, database writes) on a few
 * threads so that an event loop never waits for them.
 *
 * Each thread may keep its own state (a database connection, say), made by
 * thread_init in that thread. A job's run() executes on some worker
 * thread with that state; its done() then runs on the event loop thread. */
#ifndef POSTINO_WORKER_H
#define POSTINO_WORKER_H

#include <stddef.h>

struct event_base;

struct worker_job {
    void (*run)(struct worker_job *job, void *thread_state); /* on a worker thread */
    void (*done)(struct worker_job *job);                    /* on the event loop */
    void *arg;
    struct worker_job *next; /* private */
};

struct worker_pool;

/* Start n threads; thread_init (may be NULL) makes each one's state and
 * thread_fini releases it. */
struct worker_pool *worker_pool_new(struct event_base *base, int n, void *(*thread_init)(void *arg),
                                    void (*thread_fini)(void *state), void *arg);
/* Finish every submitted job (their done() runs), stop the threads, free. */
void worker_pool_free(struct worker_pool **p);
void worker_submit(struct worker_pool *p, struct worker_job *job);

#endif
