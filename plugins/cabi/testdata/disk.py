# A Python plugin for package cabi's tests, run by nbdkit's python plugin:
# a 1 MiB RAM disk with writes, zero, trim, extents (64 KiB blocks never
# written are holes) and an error the client must see: a read across
# offset 512 KiB fails with EPERM, set by nbdkit.set_error.
import errno
import nbdkit

API_VERSION = 2

SIZE = 1 << 20
BLOCK = 65536
disk = bytearray(SIZE)
written = set()
greeting = "hello"


def config(key, value):
    global greeting
    if key == "greeting":
        greeting = value
    else:
        raise RuntimeError("unknown parameter %s" % key)


def thread_model():
    return nbdkit.THREAD_MODEL_SERIALIZE_ALL_REQUESTS


def open(readonly):
    nbdkit.debug("open: export %r" % nbdkit.export_name())
    return {"greeting": greeting}


def export_description(h):
    return h["greeting"]


def get_size(h):
    return SIZE


def can_write(h):
    return True


def can_trim(h):
    return True


def can_zero(h):
    return True


def can_extents(h):
    return True


def pread(h, buf, offset, flags):
    if offset <= 512 * 1024 < offset + len(buf):
        nbdkit.set_error(errno.EPERM)
        raise RuntimeError("injected read failure")
    buf[:] = disk[offset:offset + len(buf)]


def pwrite(h, buf, offset, flags):
    disk[offset:offset + len(buf)] = buf
    for b in range(offset // BLOCK, (offset + len(buf) - 1) // BLOCK + 1):
        written.add(b)


def zero(h, count, offset, flags):
    disk[offset:offset + count] = bytearray(count)


def trim(h, count, offset, flags):
    zero(h, count, offset, flags)
    for b in range(offset // BLOCK, (offset + count) // BLOCK):
        if b * BLOCK >= offset:
            written.discard(b)


def flush(h, flags):
    pass


def extents(h, count, offset, flags):
    b = offset // BLOCK
    while b * BLOCK < offset + count and b * BLOCK < SIZE:
        t = 0 if b in written else nbdkit.EXTENT_HOLE | nbdkit.EXTENT_ZERO
        yield (b * BLOCK, BLOCK, t)
        b += 1
