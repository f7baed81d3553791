#ifndef GONBD_CABI_CONTEXT_H
#define GONBD_CABI_CONTEXT_H

#include "cabi.h"

struct cabi_context {
  cabi_plugin *plugin;   /* NULL outside a callback, or on a plugin's own thread */
  cabi_conn *conn;       /* NULL outside a connection's callback */
  int err;               /* set by nbdkit_set_error */
  char *msg;             /* the last nbdkit_error message, malloc'd */
};

extern __thread struct cabi_context cabi_current;

#endif
