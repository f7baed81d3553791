//go:build cgo && unix

/* The extent and export lists plugins fill (nbdkit_add_extent,
 * nbdkit_add_export), with nbdkit's rules and limits. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "cabi.h"

#define PUBLIC __attribute__ ((__visibility__ ("default")))

PUBLIC void nbdkit_error (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

/* nbdkit caps an export list at this many entries, and names at 4096 bytes. */
#define MAX_EXPORTS 10000
#define MAX_NAME 4096
/* and an extent list at this many extents (more are dropped, as past the end). */
#define MAX_EXTENTS (1 << 20)

PUBLIC struct nbdkit_extents *
nbdkit_extents_new (uint64_t start, uint64_t end)
{
  struct nbdkit_extents *e;

  if (start > INT64_MAX || end > INT64_MAX) {
    nbdkit_error ("nbdkit_extents_new: start (%" PRIu64 ") or end (%" PRIu64 ") > INT64_MAX", start, end);
    errno = ERANGE;
    return NULL;
  }
  if (start >= end) {
    nbdkit_error ("nbdkit_extents_new: start (%" PRIu64 ") >= end (%" PRIu64 ")", start, end);
    errno = ERANGE;
    return NULL;
  }
  e = calloc (1, sizeof *e);
  if (e == NULL) {
    nbdkit_error ("calloc: %m");
    return NULL;
  }
  e->start = e->next = start;
  e->end = end;
  return e;
}

PUBLIC void
nbdkit_extents_free (struct nbdkit_extents *e)
{
  if (e != NULL) {
    free (e->v);
    free (e);
  }
}

PUBLIC size_t
nbdkit_extents_count (const struct nbdkit_extents *e)
{
  return e->len;
}

/* nbdkit_add_extent: extents come in order without gaps; those past end are
 * ignored and the last one is cut at end; before the first is kept, those
 * entirely before start are ignored and the one across start is clipped.
 * Neighbours of one type merge. */
PUBLIC int
nbdkit_add_extent (struct nbdkit_extents *e, uint64_t offset, uint64_t length, uint32_t type)
{
  if (length == 0 || offset >= e->end || e->len >= MAX_EXTENTS)
    return 0;
  if (offset + length > e->end || offset + length < offset)
    length = e->end - offset;
  if (e->len == 0) {
    if (offset + length <= e->start)
      return 0;
    if (offset > e->start) {
      nbdkit_error ("nbdkit_add_extent: first extent must not be > start (%" PRIu64 ")", e->start);
      errno = ERANGE;
      return -1;
    }
    length -= e->start - offset;
    offset = e->start;
  }
  else if (e->v[e->len - 1].offset + e->v[e->len - 1].length != offset) {
    nbdkit_error ("nbdkit_add_extent: extents must be added in ascending order and must be contiguous");
    errno = ERANGE;
    return -1;
  }
  e->next = offset + length;
  if (e->len > 0 && e->v[e->len - 1].type == type) {
    e->v[e->len - 1].length += length;
    return 0;
  }
  if (e->len == e->cap) {
    size_t cap = e->cap ? e->cap * 2 : 16;
    struct cabi_extent *v = realloc (e->v, cap * sizeof *v);
    if (v == NULL) {
      nbdkit_error ("realloc: %m");
      return -1;
    }
    e->v = v;
    e->cap = cap;
  }
  e->v[e->len].offset = offset;
  e->v[e->len].length = length;
  e->v[e->len].type = type;
  e->len++;
  return 0;
}

PUBLIC struct nbdkit_exports *
nbdkit_exports_new (void)
{
  struct nbdkit_exports *e = calloc (1, sizeof *e);
  if (e == NULL)
    nbdkit_error ("calloc: %m");
  return e;
}

PUBLIC void
nbdkit_exports_free (struct nbdkit_exports *e)
{
  if (e == NULL)
    return;
  for (size_t i = 0; i < e->len; i++) {
    free (e->v[i].name);
    free (e->v[i].description);
  }
  free (e->v);
  free (e);
}

PUBLIC size_t
nbdkit_exports_count (const struct nbdkit_exports *e)
{
  return e->len;
}

static int
append_export (struct nbdkit_exports *e, const char *name, const char *description)
{
  struct cabi_export x = { NULL, NULL };

  if (e->len >= MAX_EXPORTS) {
    nbdkit_error ("nbdkit_add_export: too many exports");
    errno = EINVAL;
    return -1;
  }
  if (name != NULL && strlen (name) > MAX_NAME) {
    nbdkit_error ("nbdkit_add_export: export name too long");
    errno = EINVAL;
    return -1;
  }
  if (e->len == e->cap) {
    size_t cap = e->cap ? e->cap * 2 : 8;
    struct cabi_export *v = realloc (e->v, cap * sizeof *v);
    if (v == NULL) {
      nbdkit_error ("realloc: %m");
      return -1;
    }
    e->v = v;
    e->cap = cap;
  }
  if ((name != NULL && (x.name = strdup (name)) == NULL) ||
      (description != NULL && (x.description = strdup (description)) == NULL)) {
    free (x.name);
    nbdkit_error ("strdup: %m");
    return -1;
  }
  e->v[e->len++] = x;
  return 0;
}

PUBLIC int
nbdkit_add_export (struct nbdkit_exports *e, const char *name, const char *description)
{
  if (name == NULL) {
    nbdkit_error ("nbdkit_add_export: the name must not be NULL");
    errno = EINVAL;
    return -1;
  }
  return append_export (e, name, description);
}

PUBLIC int
nbdkit_use_default_export (struct nbdkit_exports *e)
{
  return append_export (e, NULL, NULL);
}
