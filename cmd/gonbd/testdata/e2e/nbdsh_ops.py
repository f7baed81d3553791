# Exercised by TestE2ENbdsh (e2e_clients_test.go) through nbdsh against a fresh
# "memory 64M" export: every command and flag libnbd can send, checked by what
# reads and block status see afterwards. GONBD_URI names the export. The script
# prints "OK" as its last line when every assertion held.
import errno
import os

import nbd

uri = os.environ["GONBD_URI"]
MiB = 1 << 20
SIZE = 64 * MiB
HOLE_ZERO = nbd.STATE_HOLE | nbd.STATE_ZERO


def connect():
    c = nbd.NBD()
    c.add_meta_context(nbd.CONTEXT_BASE_ALLOCATION)
    c.connect_uri(uri)
    return c


def pattern(seed, n):
    return bytes((seed + i * 7) & 0xFF for i in range(256)) * (n // 256)


def extents(c, off, count, flags=0):
    """Block status from off for count bytes as [(offset, length, flags)], asking again
    where the server stopped short, clipped to the request and with neighbours of the
    same state merged (a server may split extents as it likes)."""
    out = []
    pos, end = off, off + count
    while pos < end:
        got = []

        def cb(metacontext, offset, entries, err):
            assert metacontext == nbd.CONTEXT_BASE_ALLOCATION, metacontext
            assert offset == pos, (offset, pos)
            got.append(list(entries))
            return 0

        c.block_status(end - pos, pos, cb, flags)
        assert len(got) == 1, got
        entries = got[0]
        assert entries and len(entries) % 2 == 0, entries
        if flags & nbd.CMD_FLAG_REQ_ONE:
            assert len(entries) == 2, ("REQ_ONE gave several extents", entries)
        for i in range(0, len(entries), 2):
            length, state = entries[i], entries[i + 1]
            assert length > 0, entries
            length = min(length, end - pos)
            if out and out[-1][2] == state and out[-1][0] + out[-1][1] == pos:
                out[-1] = (out[-1][0], out[-1][1] + length, state)
            else:
                out.append((pos, length, state))
            pos += length
            if pos >= end:
                break
        if flags & nbd.CMD_FLAG_REQ_ONE:
            break
    return out


h = connect()

# What the memory plugin advertises.
assert h.get_size() == SIZE, h.get_size()
assert not h.is_read_only()
for name in ("can_fua", "can_flush", "can_trim", "can_zero", "can_fast_zero",
             "can_multi_conn", "can_cache"):
    assert getattr(h, name)(), name + " is false"
assert h.can_meta_context(nbd.CONTEXT_BASE_ALLOCATION)

# A fresh export is one hole that reads as zeros.
assert extents(h, 0, SIZE) == [(0, SIZE, HOLE_ZERO)], extents(h, 0, SIZE)
assert h.pread(MiB, 5 * MiB) == bytes(MiB)

# pwrite with and without FUA, then flush; reads see the data.
a, b = pattern(1, MiB), pattern(2, MiB)
h.pwrite(a, 1 * MiB, nbd.CMD_FLAG_FUA)
h.pwrite(b, 10 * MiB)
h.flush()
assert h.pread(MiB, 1 * MiB) == a
assert h.pread(MiB, 10 * MiB) == b

# Block status of the whole export, and of its pieces with REQ_ONE.
want = [(0, MiB, HOLE_ZERO), (MiB, MiB, 0), (2 * MiB, 8 * MiB, HOLE_ZERO),
        (10 * MiB, MiB, 0), (11 * MiB, SIZE - 11 * MiB, HOLE_ZERO)]
got = extents(h, 0, SIZE)
assert got == want, got
assert extents(h, 0, SIZE, nbd.CMD_FLAG_REQ_ONE) == [(0, MiB, HOLE_ZERO)]
assert extents(h, MiB, SIZE - MiB, nbd.CMD_FLAG_REQ_ONE) == [(MiB, MiB, 0)]
assert extents(h, 11 * MiB, MiB, nbd.CMD_FLAG_REQ_ONE) == [(11 * MiB, MiB, HOLE_ZERO)]

# trim with FUA: the memory plugin reads zeros there and reports a hole again.
h.trim(MiB, 10 * MiB, nbd.CMD_FLAG_FUA)
assert h.pread(MiB, 10 * MiB) == bytes(MiB)
got = extents(h, 0, SIZE)
assert got == want[:2] + [(2 * MiB, SIZE - 2 * MiB, HOLE_ZERO)], got

# zero with NO_HOLE and with FAST_ZERO (the plugin zeroes fast, so it succeeds).
h.pwrite(b, 20 * MiB)
h.zero(MiB, 20 * MiB, nbd.CMD_FLAG_NO_HOLE)
assert h.pread(MiB, 20 * MiB) == bytes(MiB)
h.pwrite(b, 21 * MiB)
h.zero(MiB, 21 * MiB, nbd.CMD_FLAG_FAST_ZERO)
assert h.pread(MiB, 21 * MiB) == bytes(MiB)
h.pwrite(b, 22 * MiB)
h.zero(MiB, 22 * MiB, nbd.CMD_FLAG_FUA)
assert h.pread(MiB, 22 * MiB) == bytes(MiB)
for off, _, state in extents(h, 20 * MiB, 3 * MiB):
    assert state & nbd.STATE_ZERO, ("zeroed range not reported zero", off, state)

# cache succeeds and changes nothing.
h.cache(MiB, MiB)
assert h.pread(MiB, MiB) == a

# 64 requests in flight: writes, then reads, each checked.
N, L, BASE = 64, 64 * 1024, 32 * MiB
bufs = [nbd.Buffer.from_bytearray(bytearray(pattern(i + 3, L))) for i in range(N)]
cookies = [h.aio_pwrite(bufs[i], BASE + i * L) for i in range(N)]
assert h.aio_in_flight() > 0
while h.aio_in_flight() > 0:
    h.poll(-1)
for ck in cookies:
    assert h.aio_command_completed(ck)
rbufs = [nbd.Buffer(L) for _ in range(N)]
cookies = [h.aio_pread(rbufs[i], BASE + i * L) for i in range(N)]
while h.aio_in_flight() > 0:
    h.poll(-1)
for i, ck in enumerate(cookies):
    assert h.aio_command_completed(ck)
    assert bytes(rbufs[i].to_bytearray()) == pattern(i + 3, L), i
ck = h.aio_flush()
while not h.aio_command_completed(ck):
    h.poll(-1)

# Two connections at once: what one writes and flushes, the other reads.
assert h.can_multi_conn()
h2 = connect()
c = pattern(9, MiB)
h.pwrite(c, 40 * MiB)
h.flush()
assert h2.pread(MiB, 40 * MiB) == c
h2.pwrite(a, 41 * MiB)
h2.flush()
assert h.pread(MiB, 41 * MiB) == a
h2.shutdown()


# Errors the server reports (libnbd's own checks off so the requests reach it).
def errnum(fn):
    try:
        fn()
    except nbd.Error as e:
        return e.errnum
    raise AssertionError("no error from %r" % fn)


h.set_strict_mode(0)
assert errnum(lambda: h.pread(4096, SIZE)) == errno.EINVAL
assert errnum(lambda: h.pread(8192, SIZE - 4096)) == errno.EINVAL
assert errnum(lambda: h.pwrite(bytes(4096), SIZE)) == errno.ENOSPC
assert errnum(lambda: h.pwrite(bytes(8192), SIZE - 4096)) == errno.ENOSPC
# The connection still works after errors.
assert h.pread(MiB, 41 * MiB) == a
h.shutdown()
print("OK")
