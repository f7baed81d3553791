//go:build cgo && unix

/* The functions nbdkit offers its plugins (nbdkit-plugin.h, nbdkit-common.h of
 * nbdkit 1.32, plus nbdkit_disconnect, nbdkit_parse_probability and
 * nbdkit_parse_delay of later versions), with nbdkit's semantics. They must
 * be in the executable's dynamic symbol table for dlopen'ed plugins to bind to
 * them, hence -rdynamic in the package's LDFLAGS. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "cabi.h"
#include "context.h"
#include "_cgo_export.h"

#define PUBLIC __attribute__ ((__visibility__ ("default")))

PUBLIC void nbdkit_error (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
PUBLIC void nbdkit_verror (const char *fmt, va_list args);
PUBLIC void nbdkit_debug (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
PUBLIC void nbdkit_vdebug (const char *fmt, va_list args);
PUBLIC void nbdkit_set_error (int err);

void
nbdkit_verror (const char *fmt, va_list args)
{
  int saved_errno = errno;
  char *msg = NULL;

  if (vasprintf (&msg, fmt, args) == -1)
    msg = NULL;
  if (msg != NULL) {
    size_t n = strlen (msg);
    while (n > 0 && msg[n - 1] == '\n')
      msg[--n] = '\0';
  }
  if (cabi_current.plugin != NULL) {
    /* The wrapper returns it with the callback's outcome: the server logs a
     * failed request's message once, with the request. */
    free (cabi_current.msg);
    cabi_current.msg = msg;
  }
  else {
    /* A thread the plugin made itself: nothing to attach it to. */
    fprintf (stderr, "gonbd: error: %s\n", msg ? msg : fmt);
    free (msg);
  }
  errno = saved_errno;
}

void
nbdkit_error (const char *fmt, ...)
{
  va_list args;
  va_start (args, fmt);
  nbdkit_verror (fmt, args);
  va_end (args);
}

void
nbdkit_vdebug (const char *fmt, va_list args)
{
  int saved_errno = errno;
  char *msg = NULL;

  if (cabi_current.plugin != NULL && vasprintf (&msg, fmt, args) != -1) {
    cabiLog (cabi_current.plugin->go, msg);
    free (msg);
  }
  errno = saved_errno;
}

void
nbdkit_debug (const char *fmt, ...)
{
  va_list args;
  va_start (args, fmt);
  nbdkit_vdebug (fmt, args);
  va_end (args);
}

void
nbdkit_set_error (int err)
{
  cabi_current.err = err;
}

/* Parsing. */

PUBLIC int64_t
nbdkit_parse_size (const char *str)
{
  struct cabiParseSize_return r = cabiParseSize ((char *) str);
  if (r.r1 != NULL) {
    nbdkit_error ("%s", r.r1);
    free (r.r1);
    return -1;
  }
  return r.r0;
}

PUBLIC int
nbdkit_parse_bool (const char *str)
{
  static const char *const yes[] = { "1", "true", "t", "yes", "y", "on" };
  static const char *const no[] = { "0", "false", "f", "no", "n", "off" };

  for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
    if (strcasecmp (str, yes[i]) == 0)
      return 1;
  for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
    if (strcasecmp (str, no[i]) == 0)
      return 0;
  nbdkit_error ("could not decipher boolean (%s)", str);
  return -1;
}

/* parse_signed and parse_unsigned parse str in base 0 (decimal, 0x hex, 0
 * octal), as nbdkit does, into [min, max]. */
static int
parse_signed (const char *what, const char *str, intmax_t min, intmax_t max, intmax_t *r)
{
  char *end;
  intmax_t v;

  errno = 0;
  v = strtoimax (str, &end, 0);
  if (str == end) {
    nbdkit_error ("%s: could not parse number: \"%s\"", what, str);
    return -1;
  }
  if (*end != '\0') {
    nbdkit_error ("%s: could not parse number: \"%s\": trailing garbage", what, str);
    return -1;
  }
  if (errno != 0 || v < min || v > max) {
    nbdkit_error ("%s: could not parse number: \"%s\": %s", what, str, strerror (ERANGE));
    return -1;
  }
  *r = v;
  return 0;
}

static int
parse_unsigned (const char *what, const char *str, uintmax_t max, uintmax_t *r)
{
  char *end;
  uintmax_t v;
  const char *p = str;

  while (*p == ' ' || *p == '\t' || *p == '\n')
    p++;
  /* strtoumax accepts "-1" and wraps it round: nbdkit refuses it. */
  if (*p == '-') {
    nbdkit_error ("%s: negative numbers are not allowed", what);
    return -1;
  }
  errno = 0;
  v = strtoumax (str, &end, 0);
  if (str == end) {
    nbdkit_error ("%s: could not parse number: \"%s\"", what, str);
    return -1;
  }
  if (*end != '\0') {
    nbdkit_error ("%s: could not parse number: \"%s\": trailing garbage", what, str);
    return -1;
  }
  if (errno != 0 || v > max) {
    nbdkit_error ("%s: could not parse number: \"%s\": %s", what, str, strerror (ERANGE));
    return -1;
  }
  *r = v;
  return 0;
}

#define SIGNED(name, type, min, max)                                    \
  PUBLIC int name (const char *what, const char *str, type *rp)         \
  {                                                                     \
    intmax_t v;                                                         \
    if (parse_signed (what, str, min, max, &v) == -1)                   \
      return -1;                                                        \
    if (rp)                                                             \
      *rp = (type) v;                                                   \
    return 0;                                                           \
  }
#define UNSIGNED(name, type, max)                                       \
  PUBLIC int name (const char *what, const char *str, type *rp)         \
  {                                                                     \
    uintmax_t v;                                                        \
    if (parse_unsigned (what, str, max, &v) == -1)                      \
      return -1;                                                        \
    if (rp)                                                             \
      *rp = (type) v;                                                   \
    return 0;                                                           \
  }

SIGNED (nbdkit_parse_int, int, INT_MIN, INT_MAX)
SIGNED (nbdkit_parse_int8_t, int8_t, INT8_MIN, INT8_MAX)
SIGNED (nbdkit_parse_int16_t, int16_t, INT16_MIN, INT16_MAX)
SIGNED (nbdkit_parse_int32_t, int32_t, INT32_MIN, INT32_MAX)
SIGNED (nbdkit_parse_int64_t, int64_t, INT64_MIN, INT64_MAX)
UNSIGNED (nbdkit_parse_unsigned, unsigned, UINT_MAX)
UNSIGNED (nbdkit_parse_uint8_t, uint8_t, UINT8_MAX)
UNSIGNED (nbdkit_parse_uint16_t, uint16_t, UINT16_MAX)
UNSIGNED (nbdkit_parse_uint32_t, uint32_t, UINT32_MAX)
UNSIGNED (nbdkit_parse_uint64_t, uint64_t, UINT64_MAX)

/* nbdkit_parse_probability accepts "N", "N%" and "N/M", N and M real. */
PUBLIC int
nbdkit_parse_probability (const char *what, const char *str, double *retp)
{
  char *end;
  double n, d = 1;

  errno = 0;
  n = strtod (str, &end);
  if (end == str || errno != 0)
    goto bad;
  if (*end == '%') {
    d = 100;
    end++;
  }
  else if (*end == '/') {
    const char *s = end + 1;
    d = strtod (s, &end);
    if (end == s || errno != 0 || d == 0)
      goto bad;
  }
  if (*end != '\0')
    goto bad;
  n /= d;
  if (!(n >= 0) || isinf (n)) {
    nbdkit_error ("%s: probability out of range: \"%s\"", what, str);
    return -1;
  }
  if (retp)
    *retp = n;
  return 0;
 bad:
  nbdkit_error ("%s: could not parse probability: \"%s\"", what, str);
  return -1;
}

/* nbdkit_parse_delay accepts a number of seconds, or one followed by s, ms,
 * us or ns. */
PUBLIC int
nbdkit_parse_delay (const char *what, const char *str, unsigned *sec, unsigned *nsec)
{
  char *end;
  double v, scale = 1;

  errno = 0;
  v = strtod (str, &end);
  if (end == str || errno != 0 || !(v >= 0))
    goto bad;
  if (strcmp (end, "s") == 0 || *end == '\0')
    scale = 1;
  else if (strcmp (end, "ms") == 0)
    scale = 1e-3;
  else if (strcmp (end, "us") == 0)
    scale = 1e-6;
  else if (strcmp (end, "ns") == 0)
    scale = 1e-9;
  else
    goto bad;
  v *= scale;
  if (v >= (double) UINT_MAX)
    goto bad;
  *sec = (unsigned) v;
  *nsec = (unsigned) ((v - (double) *sec) * 1e9 + 0.5);
  if (*nsec >= 1000000000) {
    (*sec)++;
    *nsec -= 1000000000;
  }
  return 0;
 bad:
  nbdkit_error ("%s: could not parse delay: \"%s\"", what, str);
  return -1;
}

/* Paths and passwords. */

PUBLIC char *
nbdkit_absolute_path (const char *path)
{
  char *cwd, *r;

  if (path == NULL || *path == '\0') {
    nbdkit_error ("cannot convert null or empty path to an absolute path");
    return NULL;
  }
  if (*path == '/') {
    r = strdup (path);
    if (r == NULL)
      nbdkit_error ("strdup: %m");
    return r;
  }
  cwd = getcwd (NULL, 0);
  if (cwd == NULL) {
    nbdkit_error ("getcwd: %m");
    return NULL;
  }
  if (asprintf (&r, "%s/%s", cwd, path) == -1) {
    nbdkit_error ("asprintf: %m");
    r = NULL;
  }
  free (cwd);
  return r;
}

PUBLIC char *
nbdkit_realpath (const char *path)
{
  char *r;

  if (path == NULL || *path == '\0') {
    nbdkit_error ("cannot resolve a null or empty path");
    return NULL;
  }
  r = realpath (path, NULL);
  if (r == NULL)
    nbdkit_error ("realpath: %s: %m", path);
  return r;
}

/* read_fd reads a password from fd up to its end or a newline. */
static int
read_fd (int fd, const char *what, char **password)
{
  size_t len = 0, cap = 128;
  char *buf = malloc (cap);

  if (buf == NULL) {
    nbdkit_error ("malloc: %m");
    return -1;
  }
  for (;;) {
    ssize_t n;
    if (len + 1 >= cap) {
      char *b = realloc (buf, cap * 2);
      if (b == NULL) {
        nbdkit_error ("realloc: %m");
        free (buf);
        return -1;
      }
      buf = b;
      cap *= 2;
    }
    n = read (fd, buf + len, 1);
    if (n == -1 && errno == EINTR)
      continue;
    if (n == -1) {
      nbdkit_error ("reading password from %s: %m", what);
      free (buf);
      return -1;
    }
    if (n == 0 || buf[len] == '\n')
      break;
    len++;
  }
  buf[len] = '\0';
  *password = buf;
  return 0;
}

PUBLIC int
nbdkit_read_password (const char *value, char **password)
{
  *password = NULL;
  if (strcmp (value, "-") == 0) {
    struct termios saved, quiet;
    int tty = isatty (STDIN_FILENO), r;
    if (tty) {
      fprintf (stderr, "password: ");
      fflush (stderr);
      tcgetattr (STDIN_FILENO, &saved);
      quiet = saved;
      quiet.c_lflag &= ~ECHO;
      tcsetattr (STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    r = read_fd (STDIN_FILENO, "standard input", password);
    if (tty) {
      tcsetattr (STDIN_FILENO, TCSAFLUSH, &saved);
      fprintf (stderr, "\n");
    }
    return r;
  }
  if (value[0] == '-' && value[1] >= '0' && value[1] <= '9') {
    int fd;
    if (nbdkit_parse_int ("password file descriptor", value + 1, &fd) == -1)
      return -1;
    if (fd < 3) {
      nbdkit_error ("password=-%d: cannot read a password from standard input, output or error this way", fd);
      return -1;
    }
    int r = read_fd (fd, value, password);
    close (fd);
    return r;
  }
  if (value[0] == '+') {
    int fd = open (value + 1, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
      nbdkit_error ("open %s: %m", value + 1);
      return -1;
    }
    int r = read_fd (fd, value + 1, password);
    close (fd);
    return r;
  }
  *password = strdup (value);
  if (*password == NULL) {
    nbdkit_error ("strdup: %m");
    return -1;
  }
  return 0;
}

PUBLIC int
nbdkit_stdio_safe (void)
{
  return cabi_current.plugin == NULL || cabiStdioSafe (cabi_current.plugin->go);
}

PUBLIC int
nbdkit_nanosleep (unsigned sec, unsigned nsec)
{
  struct timespec ts = { .tv_sec = sec + nsec / 1000000000, .tv_nsec = nsec % 1000000000 };

  while (nanosleep (&ts, &ts) == -1) {
    if (errno != EINTR) {
      nbdkit_error ("nanosleep: %m");
      return -1;
    }
  }
  return 0;
}

/* The connection. */

static cabi_conn *
need_conn (const char *fn)
{
  if (cabi_current.conn == NULL)
    nbdkit_error ("%s: called outside a connection", fn);
  return cabi_current.conn;
}

PUBLIC const char *
nbdkit_export_name (void)
{
  cabi_conn *c = need_conn ("nbdkit_export_name");
  return c ? c->export_name : NULL;
}

PUBLIC int
nbdkit_is_tls (void)
{
  cabi_conn *c = need_conn ("nbdkit_is_tls");
  return c ? c->is_tls : -1;
}

PUBLIC int
nbdkit_peer_name (struct sockaddr *addr, socklen_t *addrlen)
{
  cabi_conn *c = need_conn ("nbdkit_peer_name");
  if (c == NULL)
    return -1;
  if (cabiPeerName (c->go, addr, addrlen) == -1) {
    nbdkit_error ("nbdkit_peer_name: the peer's address is unknown or does not fit");
    return -1;
  }
  return 0;
}

static int64_t
peer_cred (const char *fn, int which)
{
  cabi_conn *c = need_conn (fn);
  int64_t r;

  if (c == NULL)
    return -1;
  r = cabiPeerCred (c->go, which);
  if (r == -1)
    nbdkit_error ("%s: the client's credentials are only known on a Unix domain socket", fn);
  return r;
}

PUBLIC int64_t nbdkit_peer_pid (void) { return peer_cred ("nbdkit_peer_pid", 0); }
PUBLIC int64_t nbdkit_peer_uid (void) { return peer_cred ("nbdkit_peer_uid", 1); }
PUBLIC int64_t nbdkit_peer_gid (void) { return peer_cred ("nbdkit_peer_gid", 2); }

PUBLIC void
nbdkit_shutdown (void)
{
  if (cabi_current.conn != NULL)
    cabiShutdown (cabi_current.conn->go);
  else if (cabi_current.plugin != NULL)
    cabiShutdown (cabi_current.plugin->go);
}

PUBLIC void
nbdkit_disconnect (int force)
{
  if (cabi_current.conn != NULL)
    cabiDisconnect (cabi_current.conn->go, force);
}

/* Interned strings live as long as the connection they were made in, or, made
 * outside one, until the plugin is unloaded. */

PUBLIC const char *
nbdkit_strndup_intern (const char *str, size_t n)
{
  size_t len = strnlen (str, n);
  struct cabi_intern *s = malloc (sizeof *s + len + 1);
  struct cabi_intern **list = NULL;

  if (s == NULL) {
    nbdkit_error ("malloc: %m");
    return NULL;
  }
  memcpy (s->s, str, len);
  s->s[len] = '\0';
  if (cabi_current.conn != NULL)
    list = &cabi_current.conn->interns;
  else if (cabi_current.plugin != NULL)
    list = &cabi_current.plugin->interns;
  if (list != NULL) {
    s->next = *list;
    *list = s;
  }
  /* else a plugin's own thread: the string lives until the process exits. */
  return s->s;
}

PUBLIC const char *
nbdkit_strdup_intern (const char *str)
{
  return nbdkit_strndup_intern (str, SIZE_MAX);
}

PUBLIC const char *
nbdkit_vprintf_intern (const char *fmt, va_list args)
{
  char *s;
  const char *r;

  if (vasprintf (&s, fmt, args) == -1) {
    nbdkit_error ("vasprintf: %m");
    return NULL;
  }
  r = nbdkit_strdup_intern (s);
  free (s);
  return r;
}

PUBLIC const char *
nbdkit_printf_intern (const char *fmt, ...)
{
  va_list args;
  const char *r;

  va_start (args, fmt);
  r = nbdkit_vprintf_intern (fmt, args);
  va_end (args);
  return r;
}
