/* agent-link: a delivery agent's side of its connections from the queue
 * manager (deliver-local, deliver-smtp). It accepts them on the agent's
 * socket, decodes each DELIVER frame into a job for the agent, sends the
 * agent's RESULT back, and keeps a connection that went away until the
 * jobs it carried are done, so an agent never writes into freed memory.
 *
 * A malformed frame closes the connection with a log line. */
#ifndef POSTINO_AGENT_LINK_H
#define POSTINO_AGENT_LINK_H

#include <event2/event.h>

#include "deliver/deliver-ipc.h"

struct agent_link;
struct agent_conn;

/* A new job from conn. *job's contents move to the agent (copy the struct;
 * the agent calls deliver_job_free on it when done), which answers it
 * exactly once with agent_conn_answer. */
typedef void (*agent_job_fn)(void *ctx, struct agent_conn *conn, struct deliver_job *job);

/* Accept the queue manager's connections on the listening socket fd.
 * NULL if the listener cannot be set up. */
struct agent_link *agent_link_new(struct event_base *base, int fd, agent_job_fn on_job, void *ctx);

/* Stop accepting; the event loop ends once every connection has closed
 * (the queue manager closes its connections when it stops). */
void agent_link_stop(struct agent_link *l);

/* Free every connection, answered or not, and the listener. */
void agent_link_free(struct agent_link **l);

/* Send job's RESULT on conn (unless the connection has gone) and count the
 * job as done. conn may be freed by this call. */
void agent_conn_answer(struct agent_conn *conn, const struct deliver_job *job);

#endif
