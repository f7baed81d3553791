//go:build cgo && unix

/* The state of the callback running on this thread. nbdkit's plugins report
 * errors and ask about their connection through global functions
 * (nbdkit_error, nbdkit_set_error, nbdkit_export_name...), so each wrapper
 * records, on the OS thread it calls the plugin from, which plugin and
 * connection the call is for, and collects what the plugin reported. A cgo
 * call runs entirely on one thread, so entering, calling and leaving inside
 * one C function is enough. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include "cabi.h"
#include "context.h"

__thread struct cabi_context cabi_current;

void
cabi_enter (cabi_plugin *pl, cabi_conn *c)
{
  cabi_current.plugin = pl;
  cabi_current.conn = c;
  cabi_current.err = 0;
  free (cabi_current.msg);
  cabi_current.msg = NULL;
}

cabi_status
cabi_leave (int failed, int saved_errno)
{
  cabi_status st = { 0, NULL };
  cabi_plugin *pl = cabi_current.plugin;

  if (failed) {
    if (cabi_current.err != 0)
      st.err = cabi_current.err;
    else if (pl != NULL && pl->p.errno_is_preserved && saved_errno != 0)
      st.err = saved_errno;
    else
      st.err = EIO;
  }
  st.msg = cabi_current.msg;
  cabi_current.msg = NULL;
  cabi_current.plugin = NULL;
  cabi_current.conn = NULL;
  cabi_current.err = 0;
  return st;
}

void
cabi_interns_free (struct cabi_intern **list)
{
  struct cabi_intern *s = *list;

  while (s != NULL) {
    struct cabi_intern *next = s->next;
    free (s);
    s = next;
  }
  *list = NULL;
}
