/* The C side of package cabi: the layout of nbdkit's plugin struct (API
 * versions 1 and 2, as nbdkit 1.32 defines it) and the wrappers Go calls. The
 * struct is spelled out here, not taken from <nbdkit-plugin.h>, so that the
 * package builds on machines without nbdkit's development files. */
#ifndef GONBD_CABI_H
#define GONBD_CABI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct nbdkit_extents;
struct nbdkit_exports;

/* cabi_plugin_struct mirrors struct nbdkit_plugin. Fields are only ever added at
 * the end; a plugin's _struct_size says how many it knows. The five v1 I/O
 * callbacks and the five v2 ones occupy different slots. */
struct cabi_plugin_struct {
  uint64_t _struct_size;
  int _api_version;
  int _thread_model;
  const char *name;
  const char *longname;
  const char *version;
  const char *description;
  void (*load) (void);
  void (*unload) (void);
  int (*config) (const char *key, const char *value);
  int (*config_complete) (void);
  const char *config_help;
  void *(*open) (int readonly);
  void (*close) (void *handle);
  int64_t (*get_size) (void *handle);
  int (*can_write) (void *handle);
  int (*can_flush) (void *handle);
  int (*is_rotational) (void *handle);
  int (*can_trim) (void *handle);
  int (*pread_v1) (void *, void *, uint32_t, uint64_t);
  int (*pwrite_v1) (void *, const void *, uint32_t, uint64_t);
  int (*flush_v1) (void *);
  int (*trim_v1) (void *, uint32_t, uint64_t);
  int (*zero_v1) (void *, uint32_t, uint64_t, int);
  int errno_is_preserved;
  void (*dump_plugin) (void);
  int (*can_zero) (void *handle);
  int (*can_fua) (void *handle);
  int (*pread) (void *, void *, uint32_t, uint64_t, uint32_t);
  int (*pwrite) (void *, const void *, uint32_t, uint64_t, uint32_t);
  int (*flush) (void *, uint32_t);
  int (*trim) (void *, uint32_t, uint64_t, uint32_t);
  int (*zero) (void *, uint32_t, uint64_t, uint32_t);
  const char *magic_config_key;
  int (*can_multi_conn) (void *handle);
  int (*can_extents) (void *handle);
  int (*extents) (void *, uint32_t, uint64_t, uint32_t, struct nbdkit_extents *);
  int (*can_cache) (void *handle);
  int (*cache) (void *, uint32_t, uint64_t, uint32_t);
  int (*thread_model) (void);
  int (*can_fast_zero) (void *handle);
  int (*preconnect) (int readonly);
  int (*get_ready) (void);
  int (*after_fork) (void);
  int (*list_exports) (int readonly, int is_tls, struct nbdkit_exports *);
  const char *(*default_export) (int readonly, int is_tls);
  const char *(*export_description) (void *handle);
  void (*cleanup) (void);
  int (*block_size) (void *, uint32_t *, uint32_t *, uint32_t *);
};

/* Flags, as nbdkit numbers them. */
#define CABI_FLAG_MAY_TRIM  (1 << 0)
#define CABI_FLAG_FUA       (1 << 1)
#define CABI_FLAG_REQ_ONE   (1 << 2)
#define CABI_FLAG_FAST_ZERO (1 << 3)

/* A string kept until its owner goes (the *_intern functions). */
struct cabi_intern {
  struct cabi_intern *next;
  char s[];
};

/* A loaded plugin. */
typedef struct cabi_plugin {
  void *dl;
  struct cabi_plugin_struct p;   /* the plugin's struct, zero-extended */
  uintptr_t go;                  /* cgo.Handle of the Go *Library */
  struct cabi_intern *interns;   /* strings interned outside connections */
} cabi_plugin;

/* One connection's state, seen by the nbdkit_* functions the plugin calls. */
typedef struct cabi_conn {
  cabi_plugin *plugin;
  void *handle;                  /* what open returned */
  char *export_name;
  int is_tls;
  uintptr_t go;                  /* cgo.Handle of the Go connection */
  struct cabi_intern *interns;
} cabi_conn;

/* The outcome of a callback: err is 0 on success, else the errno to report;
 * msg is the last nbdkit_error message (malloc'd, the caller frees it) or NULL. */
typedef struct cabi_status {
  int err;
  char *msg;
} cabi_status;

/* An extent as the plugin reported it. */
struct cabi_extent {
  uint64_t offset, length;
  uint32_t type;
};

struct nbdkit_extents {
  uint64_t start, end, next;
  size_t len, cap;
  struct cabi_extent *v;
};

struct cabi_export {
  char *name;          /* NULL: the default export (nbdkit_use_default_export) */
  char *description;
};

struct nbdkit_exports {
  size_t len, cap;
  struct cabi_export *v;
};

/* Loading. */
cabi_plugin *cabi_load (const char *path, uintptr_t go, char **errmsg);
cabi_status cabi_call_load (cabi_plugin *pl);
void cabi_unload (cabi_plugin *pl);

/* Process-wide callbacks. */
cabi_status cabi_config (cabi_plugin *pl, const char *key, const char *value);
cabi_status cabi_config_complete (cabi_plugin *pl);
int cabi_thread_model (cabi_plugin *pl);
cabi_status cabi_get_ready (cabi_plugin *pl);
cabi_status cabi_after_fork (cabi_plugin *pl);
cabi_status cabi_preconnect (cabi_plugin *pl, cabi_conn *c, int readonly);
void cabi_cleanup (cabi_plugin *pl);
void cabi_dump_plugin (cabi_plugin *pl);
cabi_status cabi_list_exports (cabi_plugin *pl, int readonly, int is_tls, struct nbdkit_exports *e);
cabi_status cabi_default_export (cabi_plugin *pl, int readonly, int is_tls, char **name);

/* Connections. */
cabi_conn *cabi_conn_new (cabi_plugin *pl, const char *export_name, int is_tls, uintptr_t go);
void cabi_conn_free (cabi_conn *c);
cabi_status cabi_open (cabi_conn *c, int readonly);
void cabi_close (cabi_conn *c);
cabi_status cabi_get_size (cabi_conn *c, int64_t *size);
cabi_status cabi_can (cabi_conn *c, int which, int *answer);
cabi_status cabi_pread (cabi_conn *c, void *buf, uint32_t count, uint64_t offset, uint32_t flags);
cabi_status cabi_pwrite (cabi_conn *c, const void *buf, uint32_t count, uint64_t offset, uint32_t flags);
cabi_status cabi_flush (cabi_conn *c, uint32_t flags);
cabi_status cabi_trim (cabi_conn *c, uint32_t count, uint64_t offset, uint32_t flags);
cabi_status cabi_zero (cabi_conn *c, uint32_t count, uint64_t offset, uint32_t flags);
cabi_status cabi_extents (cabi_conn *c, uint32_t count, uint64_t offset, uint32_t flags, struct nbdkit_extents *e);
cabi_status cabi_cache (cabi_conn *c, uint32_t count, uint64_t offset, uint32_t flags);
cabi_status cabi_block_size (cabi_conn *c, uint32_t *min, uint32_t *pref, uint32_t *max);
cabi_status cabi_export_description (cabi_conn *c, char **desc);

/* Which can_* cabi_can asks. */
enum {
  CABI_CAN_WRITE, CABI_CAN_FLUSH, CABI_IS_ROTATIONAL, CABI_CAN_TRIM,
  CABI_CAN_ZERO, CABI_CAN_FUA, CABI_CAN_MULTI_CONN, CABI_CAN_EXTENTS,
  CABI_CAN_CACHE, CABI_CAN_FAST_ZERO,
};

/* Lists the server makes for the plugin. */
struct nbdkit_extents *nbdkit_extents_new (uint64_t start, uint64_t end);
void nbdkit_extents_free (struct nbdkit_extents *);
struct nbdkit_exports *nbdkit_exports_new (void);
void nbdkit_exports_free (struct nbdkit_exports *);

/* Interning and the current call's context (context.c). */
void cabi_enter (cabi_plugin *pl, cabi_conn *c);
cabi_status cabi_leave (int failed, int saved_errno);
void cabi_interns_free (struct cabi_intern **list);

#endif
