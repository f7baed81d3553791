/* A test plugin with as few callbacks as nbdkit allows plus pwrite, to test
 * nbdkit's defaults for the rest; preconnect refuses clients once config got
 * refuse=1; thread_model narrows the model it was built with. */
#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>
#include <errno.h>
#include <string.h>

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static char disk[65536];
static int refuse;

static int
min_config (const char *key, const char *value)
{
  if (strcmp (key, "refuse") == 0) {
    refuse = nbdkit_parse_bool (value);
    return refuse == -1 ? -1 : 0;
  }
  nbdkit_error ("unknown parameter %s", key);
  return -1;
}

static int min_thread_model (void) { return NBDKIT_THREAD_MODEL_SERIALIZE_REQUESTS; }

static int
min_preconnect (int ro)
{
  if (refuse) {
    nbdkit_error ("preconnect: go away");
    return -1;
  }
  return 0;
}

static void *min_open (int ro) { return NBDKIT_HANDLE_NOT_NEEDED; }
static int64_t min_get_size (void *h) { return sizeof disk; }

static int
min_pread (void *h, void *buf, uint32_t count, uint64_t offset, uint32_t flags)
{
  memcpy (buf, disk + offset, count);
  return 0;
}

static int
min_pwrite (void *h, const void *buf, uint32_t count, uint64_t offset, uint32_t flags)
{
  memcpy (disk + offset, buf, count);
  return 0;
}

static struct nbdkit_plugin plugin = {
  .name = "minimal",
  .config = min_config,
  .thread_model = min_thread_model,
  .preconnect = min_preconnect,
  .open = min_open,
  .get_size = min_get_size,
  .pread = min_pread,
  .pwrite = min_pwrite,
};

NBDKIT_REGISTER_PLUGIN (plugin)
