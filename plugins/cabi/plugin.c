//go:build cgo && unix

/* Loading a plugin and calling its callbacks, with nbdkit's defaults for the
 * callbacks a plugin leaves out. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cabi.h"
#include "context.h"

#define CALL(failed_expr)                                       \
  ({ int failed_ = (failed_expr); cabi_leave (failed_, errno); })

static char *format_error (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

/* format_error returns a malloc'd message for the Go side, or NULL. */
static char *
format_error (const char *fmt, ...)
{
  va_list args;
  char *s = NULL;

  va_start (args, fmt);
  if (vasprintf (&s, fmt, args) == -1)
    s = NULL;
  va_end (args);
  return s;
}

static int
valid_name (const char *name)
{
  if (name == NULL || name[0] == '\0')
    return 0;
  if (!((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z')))
    return 0;
  for (const char *p = name; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
      return 0;
  return 1;
}

cabi_plugin *
cabi_load (const char *path, uintptr_t go, char **errmsg)
{
  void *dl;
  struct cabi_plugin_struct *(*init) (void);
  struct cabi_plugin_struct *ps;
  cabi_plugin *pl;
  size_t size;

  *errmsg = NULL;
  /* RTLD_NOW: a symbol the plugin needs and gonbd lacks fails here, named in
   * dlerror's message, rather than crash at the first call. RTLD_GLOBAL as
   * nbdkit does: language plugins load extension modules that need the
   * interpreter's symbols. */
  dl = dlopen (path, RTLD_NOW | RTLD_GLOBAL);
  if (dl == NULL) {
    *errmsg = strdup (dlerror ());
    return NULL;
  }
  dlerror ();
  init = (struct cabi_plugin_struct *(*) (void)) dlsym (dl, "plugin_init");
  if (init == NULL) {
    *errmsg = format_error ("%s: not an nbdkit plugin (no plugin_init symbol)", path);
    dlclose (dl);
    return NULL;
  }
  ps = init ();
  if (ps == NULL) {
    *errmsg = format_error ("%s: plugin_init returned NULL", path);
    dlclose (dl);
    return NULL;
  }
  if (ps->_api_version < 1 || ps->_api_version > 2) {
    *errmsg = format_error ("%s: the plugin uses nbdkit API version %d; gonbd supports versions 1 and 2",
                            path, ps->_api_version);
    dlclose (dl);
    return NULL;
  }
  /* A plugin built against an older header has a shorter struct: the fields
   * it does not know stay zero (absent). A newer header's extra fields are
   * ignored. */
  size = ps->_struct_size;
  if (size < offsetof (struct cabi_plugin_struct, pread_v1)) {
    *errmsg = format_error ("%s: the plugin's struct is too small (%zu bytes)", path, size);
    dlclose (dl);
    return NULL;
  }
  pl = calloc (1, sizeof *pl);
  if (pl == NULL) {
    *errmsg = strdup ("out of memory");
    dlclose (dl);
    return NULL;
  }
  if (size > sizeof pl->p)
    size = sizeof pl->p;
  memcpy (&pl->p, ps, size);
  pl->dl = dl;
  pl->go = go;

  if (!valid_name (pl->p.name))
    *errmsg = format_error ("%s: the plugin's .name (%s) must be letters, digits, '-' and '_', starting with a letter",
                            path, pl->p.name ? pl->p.name : "(null)");
  else if (pl->p.open == NULL)
    *errmsg = format_error ("%s: plugin %s has no .open callback", path, pl->p.name);
  else if (pl->p.get_size == NULL)
    *errmsg = format_error ("%s: plugin %s has no .get_size callback", path, pl->p.name);
  else if ((pl->p._api_version == 1 ? (void *) pl->p.pread_v1 : (void *) pl->p.pread) == NULL)
    *errmsg = format_error ("%s: plugin %s has no .pread callback", path, pl->p.name);
  if (*errmsg != NULL) {
    free (pl);
    dlclose (dl);
    return NULL;
  }
  return pl;
}

cabi_status
cabi_call_load (cabi_plugin *pl)
{
  cabi_enter (pl, NULL);
  if (pl->p.load)
    pl->p.load ();
  return cabi_leave (0, 0);
}

void
cabi_unload (cabi_plugin *pl)
{
  cabi_enter (pl, NULL);
  if (pl->p.unload)
    pl->p.unload ();
  cabi_status st = cabi_leave (0, 0);
  free (st.msg);
  cabi_interns_free (&pl->interns);
  /* The library stays mapped: language runtimes leave threads and atexit
   * handlers behind that would crash once their code is gone. */
}

cabi_status
cabi_config (cabi_plugin *pl, const char *key, const char *value)
{
  cabi_enter (pl, NULL);
  if (pl->p.config == NULL) {
    cabi_status st = cabi_leave (1, 0);
    if (st.msg == NULL)
      st.msg = format_error ("unknown parameter %s: the plugin takes no parameters", key);
    st.err = EINVAL;
    return st;
  }
  return CALL (pl->p.config (key, value) == -1);
}

cabi_status
cabi_config_complete (cabi_plugin *pl)
{
  cabi_enter (pl, NULL);
  if (pl->p.config_complete == NULL)
    return cabi_leave (0, 0);
  return CALL (pl->p.config_complete () == -1);
}

int
cabi_thread_model (cabi_plugin *pl)
{
  int model = pl->p._thread_model;

  if (pl->p.thread_model) {
    cabi_enter (pl, NULL);
    int r = pl->p.thread_model ();
    cabi_status st = cabi_leave (r == -1, errno);
    free (st.msg);
    if (r == -1)
      return -1;
    /* A plugin may only ask for less concurrency than it declared. */
    if (r < model)
      model = r;
  }
  return model;
}

cabi_status
cabi_get_ready (cabi_plugin *pl)
{
  cabi_enter (pl, NULL);
  if (pl->p.get_ready == NULL)
    return cabi_leave (0, 0);
  return CALL (pl->p.get_ready () == -1);
}

cabi_status
cabi_after_fork (cabi_plugin *pl)
{
  cabi_enter (pl, NULL);
  if (pl->p.after_fork == NULL)
    return cabi_leave (0, 0);
  return CALL (pl->p.after_fork () == -1);
}

cabi_status
cabi_preconnect (cabi_plugin *pl, cabi_conn *c, int readonly)
{
  cabi_enter (pl, c);
  if (pl->p.preconnect == NULL)
    return cabi_leave (0, 0);
  return CALL (pl->p.preconnect (readonly) == -1);
}

void
cabi_cleanup (cabi_plugin *pl)
{
  cabi_enter (pl, NULL);
  if (pl->p.cleanup)
    pl->p.cleanup ();
  cabi_status st = cabi_leave (0, 0);
  free (st.msg);
}

void
cabi_dump_plugin (cabi_plugin *pl)
{
  if (pl->p.dump_plugin == NULL)
    return;
  cabi_enter (pl, NULL);
  fflush (stdout);
  pl->p.dump_plugin ();
  fflush (stdout);
  cabi_status st = cabi_leave (0, 0);
  free (st.msg);
}

cabi_status
cabi_list_exports (cabi_plugin *pl, int readonly, int is_tls, struct nbdkit_exports *e)
{
  cabi_enter (pl, NULL);
  if (pl->p.list_exports == NULL) {
    /* nbdkit's default: the default export alone. */
    e->len = 0;
    cabi_status st = cabi_leave (0, 0);
    return st;
  }
  return CALL (pl->p.list_exports (readonly, is_tls, e) == -1);
}

cabi_status
cabi_default_export (cabi_plugin *pl, int readonly, int is_tls, char **name)
{
  const char *s = "";

  *name = NULL;
  cabi_enter (pl, NULL);
  if (pl->p.default_export) {
    s = pl->p.default_export (readonly, is_tls);
    if (s == NULL)
      return cabi_leave (1, errno);
  }
  *name = strdup (s);
  return cabi_leave (0, 0);
}

cabi_conn *
cabi_conn_new (cabi_plugin *pl, const char *export_name, int is_tls, uintptr_t go)
{
  cabi_conn *c = calloc (1, sizeof *c);

  if (c == NULL)
    return NULL;
  c->plugin = pl;
  c->export_name = strdup (export_name);
  c->is_tls = is_tls;
  c->go = go;
  if (c->export_name == NULL) {
    free (c);
    return NULL;
  }
  return c;
}

void
cabi_conn_free (cabi_conn *c)
{
  cabi_interns_free (&c->interns);
  free (c->export_name);
  free (c);
}

cabi_status
cabi_open (cabi_conn *c, int readonly)
{
  cabi_enter (c->plugin, c);
  c->handle = c->plugin->p.open (readonly);
  return CALL (c->handle == NULL);
}

void
cabi_close (cabi_conn *c)
{
  cabi_enter (c->plugin, c);
  if (c->plugin->p.close)
    c->plugin->p.close (c->handle);
  cabi_status st = cabi_leave (0, 0);
  free (st.msg);
}

cabi_status
cabi_get_size (cabi_conn *c, int64_t *size)
{
  cabi_enter (c->plugin, c);
  *size = c->plugin->p.get_size (c->handle);
  return CALL (*size == -1);
}

/* has reports whether the plugin has the callback for an operation, in the
 * slot its API version uses. */
static int
has_write (const struct cabi_plugin_struct *p)
{
  return p->_api_version == 1 ? p->pwrite_v1 != NULL : p->pwrite != NULL;
}

static int
has_flush (const struct cabi_plugin_struct *p)
{
  return p->_api_version == 1 ? p->flush_v1 != NULL : p->flush != NULL;
}

static int
has_trim (const struct cabi_plugin_struct *p)
{
  return p->_api_version == 1 ? p->trim_v1 != NULL : p->trim != NULL;
}

static int
has_zero (const struct cabi_plugin_struct *p)
{
  return p->_api_version == 1 ? p->zero_v1 != NULL : p->zero != NULL;
}

/* ask calls a can_* callback, or answers def when there is none. */
static int
ask (cabi_conn *c, int (*cb) (void *), int def)
{
  return cb ? cb (c->handle) : def;
}

cabi_status
cabi_can (cabi_conn *c, int which, int *answer)
{
  const struct cabi_plugin_struct *p = &c->plugin->p;
  int r;

  cabi_enter (c->plugin, c);
  switch (which) {
  case CABI_CAN_WRITE:
    r = ask (c, p->can_write, has_write (p));
    break;
  case CABI_CAN_FLUSH:
    r = ask (c, p->can_flush, has_flush (p));
    break;
  case CABI_IS_ROTATIONAL:
    r = ask (c, p->is_rotational, 0);
    break;
  case CABI_CAN_TRIM:
    r = ask (c, p->can_trim, has_trim (p));
    break;
  case CABI_CAN_ZERO:
    /* 1: the plugin zeroes itself; 0: the server writes zeroes. */
    r = p->can_zero ? p->can_zero (c->handle) : has_zero (p);
    if (r > 0)
      r = has_zero (p);
    break;
  case CABI_CAN_FUA:
    if (p->can_fua) {
      r = p->can_fua (c->handle);
      /* A v1 plugin has no flags argument to receive FUA in. */
      if (r == 2 && p->_api_version == 1)
        r = 1;
    }
    else {
      r = ask (c, p->can_flush, has_flush (p));
      if (r > 0)
        r = 1;                  /* emulated by flush */
    }
    break;
  case CABI_CAN_MULTI_CONN:
    r = ask (c, p->can_multi_conn, 0);
    break;
  case CABI_CAN_EXTENTS:
    r = p->extents ? ask (c, p->can_extents, 1) : 0;
    break;
  case CABI_CAN_CACHE:
    if (p->can_cache)
      r = p->can_cache (c->handle);
    else
      r = p->cache ? 2 : 0;
    if (r == 2 && p->cache == NULL)
      r = 1;
    break;
  case CABI_CAN_FAST_ZERO:
    if (p->can_fast_zero)
      r = p->can_fast_zero (c->handle);
    else
      r = -2;                   /* no callback: the Go side decides */
    break;
  default:
    r = -1;
    errno = EINVAL;
  }
  *answer = r;
  return CALL (r == -1);
}

cabi_status
cabi_pread (cabi_conn *c, void *buf, uint32_t count, uint64_t offset, uint32_t flags)
{
  const struct cabi_plugin_struct *p = &c->plugin->p;

  cabi_enter (c->plugin, c);
  if (p->_api_version == 1)
    return CALL (p->pread_v1 (c->handle, buf, count, offset) == -1);
  return CALL (p->pread (c->handle, buf, count, offset, flags) == -1);
}

cabi_status
cabi_pwrite (cabi_conn *c, const void *buf, uint32_t count, uint64_t offset, uint32_t flags)
{
  const struct cabi_plugin_struct *p = &c->plugin->p;

  cabi_enter (c->plugin, c);
  if (!has_write (p)) {
    errno = EROFS;
    return CALL (1);
  }
  if (p->_api_version == 1)
    return CALL (p->pwrite_v1 (c->handle, buf, count, offset) == -1);
  return CALL (p->pwrite (c->handle, buf, count, offset, flags) == -1);
}

cabi_status
cabi_flush (cabi_conn *c, uint32_t flags)
{
  const struct cabi_plugin_struct *p = &c->plugin->p;

  cabi_enter (c->plugin, c);
  if (!has_flush (p)) {
    errno = EINVAL;
    return CALL (1);
  }
  if (p->_api_version == 1)
    return CALL (p->flush_v1 (c->handle) == -1);
  return CALL (p->flush (c->handle, flags) == -1);
}

cabi_status
cabi_trim (cabi_conn *c, uint32_t count, uint64_t offset, uint32_t flags)
{
  const struct cabi_plugin_struct *p = &c->plugin->p;

  cabi_enter (c->plugin, c);
  if (!has_trim (p)) {
    errno = EINVAL;
    return CALL (1);
  }
  if (p->_api_version == 1)
    return CALL (p->trim_v1 (c->handle, count, offset) == -1);
  return CALL (p->trim (c->handle, count, offset, flags) == -1);
}

cabi_status
cabi_zero (cabi_conn *c, uint32_t count, uint64_t offset, uint32_t flags)
{
  const struct cabi_plugin_struct *p = &c->plugin->p;

  cabi_enter (c->plugin, c);
  if (!has_zero (p)) {
    errno = EOPNOTSUPP;
    return CALL (1);
  }
  if (p->_api_version == 1)
    return CALL (p->zero_v1 (c->handle, count, offset, (flags & CABI_FLAG_MAY_TRIM) != 0) == -1);
  return CALL (p->zero (c->handle, count, offset, flags) == -1);
}

cabi_status
cabi_extents (cabi_conn *c, uint32_t count, uint64_t offset, uint32_t flags, struct nbdkit_extents *e)
{
  const struct cabi_plugin_struct *p = &c->plugin->p;

  cabi_enter (c->plugin, c);
  if (p->extents == NULL) {
    errno = EINVAL;
    return CALL (1);
  }
  return CALL (p->extents (c->handle, count, offset, flags, e) == -1);
}

cabi_status
cabi_cache (cabi_conn *c, uint32_t count, uint64_t offset, uint32_t flags)
{
  const struct cabi_plugin_struct *p = &c->plugin->p;

  cabi_enter (c->plugin, c);
  if (p->cache == NULL) {
    errno = EINVAL;
    return CALL (1);
  }
  return CALL (p->cache (c->handle, count, offset, flags) == -1);
}

cabi_status
cabi_block_size (cabi_conn *c, uint32_t *min, uint32_t *pref, uint32_t *max)
{
  const struct cabi_plugin_struct *p = &c->plugin->p;

  *min = *pref = *max = 0;
  cabi_enter (c->plugin, c);
  if (p->block_size == NULL)
    return cabi_leave (0, 0);
  return CALL (p->block_size (c->handle, min, pref, max) == -1);
}

cabi_status
cabi_export_description (cabi_conn *c, char **desc)
{
  const struct cabi_plugin_struct *p = &c->plugin->p;
  const char *s;

  *desc = NULL;
  cabi_enter (c->plugin, c);
  if (p->export_description == NULL)
    return cabi_leave (0, 0);
  s = p->export_description (c->handle);
  if (s != NULL)
    *desc = strdup (s);
  return cabi_leave (0, 0);   /* NULL means no description, not an error */
}
