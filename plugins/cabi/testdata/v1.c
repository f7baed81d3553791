/* A test plugin of nbdkit's API version 1: a disk of 1 MiB where each byte
 * is its offset modulo 251, writable, with the v1 pread/pwrite/zero. */
#include <nbdkit-plugin.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define THREAD_MODEL NBDKIT_THREAD_MODEL_SERIALIZE_ALL_REQUESTS
#define SIZE (1 << 20)

static unsigned char disk[SIZE];

static void
v1_load (void)
{
  for (int i = 0; i < SIZE; i++)
    disk[i] = i % 251;
}

static void *v1_open (int ro) { return NBDKIT_HANDLE_NOT_NEEDED; }
static int64_t v1_get_size (void *h) { return SIZE; }

static int
v1_pread (void *h, void *buf, uint32_t count, uint64_t offset)
{
  memcpy (buf, disk + offset, count);
  return 0;
}

static int
v1_pwrite (void *h, const void *buf, uint32_t count, uint64_t offset)
{
  if (offset == 0 && count >= 4 && memcmp (buf, "FAIL", 4) == 0) {
    errno = ENOSPC;      /* errno_is_preserved: this is the error */
    return -1;
  }
  memcpy (disk + offset, buf, count);
  return 0;
}

static int
v1_zero (void *h, uint32_t count, uint64_t offset, int may_trim)
{
  errno = EOPNOTSUPP;    /* nbdkit falls back to writing zeroes */
  return -1;
}

static int v1_flush (void *h) { return 0; }

static struct nbdkit_plugin plugin = {
  .name = "v1test",
  .load = v1_load,
  .open = v1_open,
  .get_size = v1_get_size,
  .pread = v1_pread,
  .pwrite = v1_pwrite,
  .zero = v1_zero,
  .flush = v1_flush,
  .errno_is_preserved = 1,
};

NBDKIT_REGISTER_PLUGIN (plugin)
