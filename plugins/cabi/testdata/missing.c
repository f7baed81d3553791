/* A plugin that needs a function no nbdkit has: loading must fail and name it. */
#include <nbdkit-plugin.h>
extern void nbdkit_no_such_function (void);
#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL
static void *m_open (int ro) { nbdkit_no_such_function (); return NBDKIT_HANDLE_NOT_NEEDED; }
static int64_t m_get_size (void *h) { return 512; }
static int m_pread (void *h, void *b, uint32_t c, uint64_t o) { return 0; }
static struct nbdkit_plugin plugin = { .name = "missing", .open = m_open, .get_size = m_get_size, .pread = m_pread };
NBDKIT_REGISTER_PLUGIN (plugin)
