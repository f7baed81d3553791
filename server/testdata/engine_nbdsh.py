# Run by TestNbdsh (engine_clients_test.go) as: nbdsh -u URI -c 'exec(open(THIS).read())'
# with h connected to a 64 MiB export of the test disk. Prints OK at the end.
import os
import nbd

uri = os.environ["GONBD_URI"]
size = h.get_size()
assert size == 64 << 20, size
for cap in ("can_fua", "can_trim", "can_zero", "can_fast_zero", "can_flush",
            "can_multi_conn", "can_df", "can_cache"):
    assert getattr(h, cap)(), cap
assert h.can_meta_context("base:allocation")

buf = bytes(range(256)) * 256  # 64 KiB
h.pwrite(buf, 0, nbd.CMD_FLAG_FUA)
assert h.pread(65536, 0) == buf
chunks = []
def chunk(subbuf, offset, status, err):
    chunks.append((offset, status, bytes(subbuf)))
assert h.pread_structured(65536, 0, chunk, nbd.CMD_FLAG_DF) == buf
assert chunks == [(0, nbd.READ_DATA, buf)], [(o, s) for o, s, _ in chunks]
h.flush()
h.zero(4096, 4096, nbd.CMD_FLAG_NO_HOLE)
h.zero(8192, 8192, nbd.CMD_FLAG_FAST_ZERO | nbd.CMD_FLAG_FUA)
assert h.pread(16384, 0) == buf[:4096] + bytes(12288)
h.cache(65536, 0)

entries = []
def extent(metacontext, offset, e, err):
    assert metacontext == "base:allocation", metacontext
    entries.extend(e)
h.block_status(size, 0, extent)
assert entries == [4096, 0, 12288, 3, 49152, 0, size - 65536, 3], entries
for off in (0, 4096, 65536):
    entries = []
    h.block_status(size - off, off, extent, nbd.CMD_FLAG_REQ_ONE)
    assert len(entries) == 2 and 0 < entries[0] <= size - off, entries

h.trim(32768, 32768, nbd.CMD_FLAG_FUA)
assert h.pread(32768, 32768) == bytes(32768)

# 64 reads in flight.
h.pwrite(bytes([7]) * (256 << 10), 1 << 20)
pending = {}
for i in range(64):
    b = nbd.Buffer(4096)
    pending[h.aio_pread(b, (1 << 20) + i * 4096)] = b
assert h.aio_in_flight() > 0
bufs = list(pending.values())
while True:
    for c in list(pending):
        if h.aio_command_completed(c):
            del pending[c]
    if not pending:
        break
    h.poll(-1)
for b in bufs:
    assert b.to_bytearray() == bytearray([7]) * 4096

# A second connection sees the first one's flushed writes (can_multi_conn).
h2 = nbd.NBD()
h2.connect_uri(uri)
assert h2.can_multi_conn()
h2.pwrite(b"second connection", 2 << 20)
h2.flush()
h.flush()
assert h.pread(17, 2 << 20) == b"second connection"
h2.shutdown()
h.shutdown()
print("OK")
