#!/usr/bin/python3
"""A disk kept in a file, written in Python with nbdkit's sh plugin calling
convention:

    gonbd sh disk.py file=disk.img

It serves two exports, "" (the default, also called "main") and "small" (the file's
first 64 KiB), and answers most optional methods, to exercise them.
"""

import os
import sys

BLOCK = 65536
SMALL = 65536


def path():
    return os.path.join(os.environ["tmpdir"], "file")


def fail(errno, message):
    print(errno, message, file=sys.stderr)
    sys.exit(1)


def size(handle):
    n = os.stat(path()).st_size
    return min(n, SMALL) if handle == "small" else n


def main(method, *args):
    if method == "config":
        key, value = args[0], args[1]
        if key != "file":
            fail("EINVAL", "unknown parameter " + key)
        os.symlink(os.path.realpath(value), path())
    elif method == "config_complete":
        if not os.path.lexists(path()):
            fail("EINVAL", "file=DISK is required")
    elif method == "thread_model":
        print("parallel")
    elif method == "list_exports":
        print("INTERLEAVED\nmain\nthe whole file\nsmall\nits first 64 KiB")
    elif method == "default_export":
        print("main")
    elif method == "open":
        readonly, name = args[0], args[1]
        print("small" if name == "small" else "main")
    elif method == "export_description":
        print("python disk " + args[0])
    elif method == "get_size":
        print(size(args[0]))
    elif method in ("can_write", "can_flush", "can_trim", "can_zero",
                    "can_extents", "can_multi_conn", "is_rotational"):
        sys.exit(0)
    elif method == "can_fast_zero":
        sys.exit(3)
    elif method in ("can_fua", "can_cache"):
        print("native")
    elif method == "pread":
        count, offset = int(args[1]), int(args[2])
        with open(path(), "rb") as f:
            sys.stdout.buffer.write(os.pread(f.fileno(), count, offset))
    elif method == "pwrite":
        count, offset = int(args[1]), int(args[2])
        data = sys.stdin.buffer.read()
        if len(data) != count:
            fail("EIO", "expected %d bytes, read %d" % (count, len(data)))
        with open(path(), "r+b") as f:
            os.pwrite(f.fileno(), data, offset)
            if "fua" in args[3].split(","):
                os.fsync(f.fileno())
    elif method in ("trim", "zero"):
        count, offset = int(args[1]), int(args[2])
        with open(path(), "r+b") as f:
            os.pwrite(f.fileno(), bytes(count), offset)
    elif method == "flush":
        with open(path(), "r+b") as f:
            os.fsync(f.fileno())
    elif method == "cache":
        pass
    elif method == "extents":
        count, offset = int(args[1]), int(args[2])
        end = min(offset + count, size(args[0]))
        with open(path(), "rb") as f:
            off = offset // BLOCK * BLOCK
            while off < end:
                data = os.pread(f.fileno(), min(BLOCK, end - off), off)
                kind = "hole,zero" if data.count(0) == len(data) else ""
                print(off, len(data), kind)
                off += len(data)
    else:
        sys.exit(2)


if __name__ == "__main__":
    main(*sys.argv[1:])
