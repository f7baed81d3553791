-- A read-only 1 MiB disk of the letter L, for nbdkit's lua plugin.
function open (readonly)
   return 1
end

function get_size (h)
   return 1048576
end

function pread (h, count, offset)
   return string.rep ("L", count)
end
