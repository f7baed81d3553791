/* A test plugin that calls nbdkit's server functions and reports what they
 * return: each config key is the function to call on the value, its result is
 * logged with nbdkit_debug ("KEY=RESULT"), and a failure fails config with the
 * function's nbdkit_error message. The export description says what the
 * connection functions answer. */
#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static int
probe_config (const char *key, const char *value)
{
#define INT(name, type, fmt)                                            \
  if (strcmp (key, #name) == 0) {                                       \
    type v;                                                             \
    if (nbdkit_parse_##name (key, value, &v) == -1)                     \
      return -1;                                                        \
    nbdkit_debug ("%s=%" fmt, key, v);                                  \
    return 0;                                                           \
  }
  INT (int, int, "d")
  INT (unsigned, unsigned, "u")
  INT (int8_t, int8_t, PRIi8)
  INT (uint8_t, uint8_t, PRIu8)
  INT (int16_t, int16_t, PRIi16)
  INT (uint16_t, uint16_t, PRIu16)
  INT (int32_t, int32_t, PRIi32)
  INT (uint32_t, uint32_t, PRIu32)
  INT (int64_t, int64_t, PRIi64)
  INT (uint64_t, uint64_t, PRIu64)
  if (strcmp (key, "size") == 0) {
    int64_t v = nbdkit_parse_size (value);
    if (v == -1)
      return -1;
    nbdkit_debug ("size=%" PRIi64, v);
    return 0;
  }
  if (strcmp (key, "bool") == 0) {
    int v = nbdkit_parse_bool (value);
    if (v == -1)
      return -1;
    nbdkit_debug ("bool=%d", v);
    return 0;
  }
  if (strcmp (key, "password") == 0) {
    char *p;
    if (nbdkit_read_password (value, &p) == -1)
      return -1;
    nbdkit_debug ("password=%s", p);
    free (p);
    return 0;
  }
  if (strcmp (key, "realpath") == 0 || strcmp (key, "abspath") == 0) {
    char *p = key[0] == 'r' ? nbdkit_realpath (value) : nbdkit_absolute_path (value);
    if (p == NULL)
      return -1;
    nbdkit_debug ("%s=%s", key, p);
    free (p);
    return 0;
  }
  if (strcmp (key, "intern") == 0) {
    const char *s = nbdkit_strndup_intern (value, 3);
    if (s == NULL)
      return -1;
    nbdkit_debug ("intern=%s", s);
    return 0;
  }
  if (strcmp (key, "sleep") == 0) {
    if (nbdkit_nanosleep (0, 1000) == -1)
      return -1;
    nbdkit_debug ("sleep=ok stdio_safe=%d", nbdkit_stdio_safe ());
    return 0;
  }
  nbdkit_error ("probe: unknown function %s", key);
  return -1;
}

struct handle { const char *desc; };

static void *
probe_open (int ro)
{
  struct handle *h = malloc (sizeof *h);
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  const char *name = nbdkit_export_name ();

  if (h == NULL || name == NULL)
    return NULL;
  if (strcmp (name, "shutdown") == 0)
    nbdkit_shutdown ();
  if (nbdkit_peer_name ((struct sockaddr *) &ss, &len) == -1)
    return NULL;
  h->desc = nbdkit_printf_intern ("name=%s tls=%d family=%d pid=%" PRIi64 " uid=%" PRIi64 " gid=%" PRIi64,
                                  name, nbdkit_is_tls (), ss.ss_family,
                                  nbdkit_peer_pid (), nbdkit_peer_uid (), nbdkit_peer_gid ());
  return h;
}

static void probe_close (void *h) { free (h); }
static int64_t probe_get_size (void *h) { return 512; }
static const char *probe_description (void *h) { return ((struct handle *) h)->desc; }

static int
probe_pread (void *h, void *buf, uint32_t count, uint64_t offset, uint32_t flags)
{
  memset (buf, 0, count);
  return 0;
}

static struct nbdkit_plugin plugin = {
  .name = "probe",
  .config = probe_config,
  .open = probe_open,
  .close = probe_close,
  .get_size = probe_get_size,
  .export_description = probe_description,
  .pread = probe_pread,
};

NBDKIT_REGISTER_PLUGIN (plugin)
