# A read-only 1 MiB disk of the letter R, for nbdkit's ruby plugin.
def open(readonly)
  1
end

def get_size(h)
  1048576
end

def pread(h, count, offset)
  "R" * count
end
