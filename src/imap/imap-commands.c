/* imap-commands: the table of IMAP commands, in which states each may run
 * and whether UID may precede it. */
#include <string.h>

#include "imap/imap-session-private.h"

#define ANY      IMAP_IN_ANY
#define AUTHED   (IMAP_IN_AUTH | IMAP_IN_SELECTED)
#define SELECTED IMAP_IN_SELECTED

static const struct imap_cmd_def commands[] = {
    /* any state (RFC 3501 6.1) and extensions of it */
    {"CAPABILITY", ANY, imap_cmd_capability, false, false},
    {"NOOP", ANY, imap_cmd_noop, false, false},
    {"LOGOUT", ANY, imap_cmd_logout, false, false},
    {"ID", ANY, imap_cmd_id, false, false},
    /* not authenticated (6.2) */
    {"STARTTLS", IMAP_IN_NOT_AUTH, imap_cmd_starttls, false, false},
    {"LOGIN", IMAP_IN_NOT_AUTH, imap_cmd_login, false, false},
    {"AUTHENTICATE", IMAP_IN_NOT_AUTH, imap_cmd_authenticate, false, false},
    /* authenticated (6.3) */
    {"ENABLE", AUTHED, imap_cmd_enable, false, false},
    {"SELECT", AUTHED, imap_cmd_select, false, false},
    {"EXAMINE", AUTHED, imap_cmd_select, false, false},
    {"APPEND", AUTHED, imap_cmd_append, false, false},
    {"IDLE", AUTHED, imap_cmd_idle, false, false},
    {"CREATE", AUTHED, imap_cmd_create, false, false},
    {"DELETE", AUTHED, imap_cmd_delete, false, false},
    {"RENAME", AUTHED, imap_cmd_rename, false, false},
    {"SUBSCRIBE", AUTHED, imap_cmd_subscribe, false, false},
    {"UNSUBSCRIBE", AUTHED, imap_cmd_unsubscribe, false, false},
    {"LIST", AUTHED, imap_cmd_list, false, false},
    {"LSUB", AUTHED, imap_cmd_lsub, false, false},
    {"STATUS", AUTHED, imap_cmd_status, false, false},
    {"NAMESPACE", AUTHED, imap_cmd_namespace, false, false},
    /* selected (6.4) */
    {"CHECK", SELECTED, imap_cmd_check, false, false},
    {"CLOSE", SELECTED, imap_cmd_close, false, false},
    {"UNSELECT", SELECTED, imap_cmd_unselect, false, false},
    {"EXPUNGE", SELECTED, imap_cmd_expunge, true, false},
    {"FETCH", SELECTED, imap_cmd_fetch, true, true},
    {"SEARCH", SELECTED, imap_cmd_search, true, true},
    {"STORE", SELECTED, imap_cmd_store, true, true},
    {"COPY", SELECTED, imap_cmd_copy, true, false},
    {"MOVE", SELECTED, imap_cmd_move, true, false},
};

const struct imap_cmd_def *imap_command_find(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}
