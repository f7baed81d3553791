/* A test plugin for package cabi: a RAM disk using every callback of nbdkit's
 * API version 2 and many nbdkit_* functions. Built by the tests with gcc.
 *
 * Parameters: size=SIZE (nbdkit_parse_size), fail=OFFSET (a read at OFFSET
 * fails with EPERM and a message), readonly=BOOL. Extents: 64 KiB blocks that
 * were never written, or were trimmed/zeroed, are holes. */
#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>
#include <errno.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL
#define BLOCK 65536

static int64_t size = 1 << 20;
static int64_t fail_offset = -1;
static int readonly;
static char *disk;
static unsigned char *used;     /* one byte per block: written since last zeroed */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int loaded;

static void ram_load (void) { loaded = 1; }

static int
ram_config (const char *key, const char *value)
{
  if (strcmp (key, "size") == 0) {
    size = nbdkit_parse_size (value);
    return size == -1 ? -1 : 0;
  }
  if (strcmp (key, "fail") == 0) {
    uint64_t v;
    if (nbdkit_parse_uint64_t ("fail", value, &v) == -1)
      return -1;
    fail_offset = v;
    return 0;
  }
  if (strcmp (key, "readonly") == 0) {
    readonly = nbdkit_parse_bool (value);
    return readonly == -1 ? -1 : 0;
  }
  nbdkit_error ("unknown parameter '%s'", key);
  return -1;
}

static int
ram_config_complete (void)
{
  if (!loaded) {
    nbdkit_error ("load was not called");
    return -1;
  }
  disk = calloc (1, size);
  used = calloc (1, size / BLOCK + 1);
  if (disk == NULL || used == NULL) {
    nbdkit_error ("calloc: %m");
    return -1;
  }
  return 0;
}

static int
ram_list_exports (int ro, int is_tls, struct nbdkit_exports *e)
{
  if (nbdkit_use_default_export (e) == -1)
    return -1;
  return nbdkit_add_export (e, "second", "the second export");
}

static const char *
ram_default_export (int ro, int is_tls)
{
  return "first";
}

struct handle { const char *name; };

static void *
ram_open (int ro)
{
  struct handle *h = malloc (sizeof *h);
  const char *name = nbdkit_export_name ();
  if (h == NULL || name == NULL)
    return NULL;
  if (strcmp (name, "refuse") == 0) {
    free (h);
    nbdkit_error ("export %s is refused", name);
    return NULL;
  }
  h->name = nbdkit_printf_intern ("export <%s> tls=%d", name, nbdkit_is_tls ());
  nbdkit_debug ("opened %s", h->name);
  return h;
}

static void ram_close (void *h) { free (h); }
static int64_t ram_get_size (void *h) { return size; }
static int ram_can_write (void *h) { return !readonly; }
static int ram_can_multi_conn (void *h) { return 1; }
static int ram_can_fua (void *h) { return NBDKIT_FUA_NATIVE; }
static int ram_can_cache (void *h) { return NBDKIT_CACHE_NATIVE; }
static const char *ram_export_description (void *h) { return ((struct handle *) h)->name; }

static int
ram_block_size (void *h, uint32_t *min, uint32_t *pref, uint32_t *max)
{
  *min = 1;
  *pref = 4096;
  *max = 0xffffffff;
  return 0;
}

static void
mark (uint64_t offset, uint32_t count, int value)
{
  for (uint64_t b = offset / BLOCK; b * BLOCK < offset + count; b++)
    /* Only whole blocks lose their data. */
    if (value || (b * BLOCK >= offset && (b + 1) * BLOCK <= offset + count))
      used[b] = value;
}

static int
ram_pread (void *h, void *buf, uint32_t count, uint64_t offset, uint32_t flags)
{
  if (fail_offset >= 0 && offset <= (uint64_t) fail_offset && (uint64_t) fail_offset < offset + count) {
    nbdkit_error ("pread: injected failure at %" PRIi64, fail_offset);
    nbdkit_set_error (EPERM);
    return -1;
  }
  pthread_mutex_lock (&lock);
  memcpy (buf, disk + offset, count);
  pthread_mutex_unlock (&lock);
  return 0;
}

static int
ram_pwrite (void *h, const void *buf, uint32_t count, uint64_t offset, uint32_t flags)
{
  pthread_mutex_lock (&lock);
  memcpy (disk + offset, buf, count);
  mark (offset, count, 1);
  pthread_mutex_unlock (&lock);
  return 0;
}

static int ram_flush (void *h, uint32_t flags) { return 0; }

static int
ram_zero (void *h, uint32_t count, uint64_t offset, uint32_t flags)
{
  pthread_mutex_lock (&lock);
  memset (disk + offset, 0, count);
  if (flags & NBDKIT_FLAG_MAY_TRIM)
    mark (offset, count, 0);
  pthread_mutex_unlock (&lock);
  return 0;
}

static int
ram_trim (void *h, uint32_t count, uint64_t offset, uint32_t flags)
{
  return ram_zero (h, count, offset, NBDKIT_FLAG_MAY_TRIM);
}

static int ram_cache (void *h, uint32_t count, uint64_t offset, uint32_t flags) { return 0; }

static int
ram_extents (void *h, uint32_t count, uint64_t offset, uint32_t flags, struct nbdkit_extents *e)
{
  uint64_t b = offset / BLOCK * BLOCK;
  for (; b < offset + count && b < (uint64_t) size; b += BLOCK) {
    uint64_t len = BLOCK;
    if (b + len > (uint64_t) size)
      len = size - b;
    if (nbdkit_add_extent (e, b, len, used[b / BLOCK] ? 0 : NBDKIT_EXTENT_HOLE | NBDKIT_EXTENT_ZERO) == -1)
      return -1;
    if (flags & NBDKIT_FLAG_REQ_ONE)
      break;
  }
  return 0;
}

static struct nbdkit_plugin plugin = {
  .name = "ramdisk",
  .version = "1.0",
  .longname = "cabi test RAM disk",
  .description = "a RAM disk for gonbd's cabi tests",
  .magic_config_key = "size",
  .config_help = "size=SIZE  the disk's size\nfail=OFFSET  reads at OFFSET fail",
  .load = ram_load,
  .config = ram_config,
  .config_complete = ram_config_complete,
  .list_exports = ram_list_exports,
  .default_export = ram_default_export,
  .open = ram_open,
  .close = ram_close,
  .get_size = ram_get_size,
  .can_write = ram_can_write,
  .can_multi_conn = ram_can_multi_conn,
  .can_fua = ram_can_fua,
  .can_cache = ram_can_cache,
  .export_description = ram_export_description,
  .block_size = ram_block_size,
  .pread = ram_pread,
  .pwrite = ram_pwrite,
  .flush = ram_flush,
  .zero = ram_zero,
  .trim = ram_trim,
  .cache = ram_cache,
  .extents = ram_extents,
  .errno_is_preserved = 1,
};

NBDKIT_REGISTER_PLUGIN (plugin)
