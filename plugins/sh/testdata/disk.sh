#!/usr/bin/env bash
# A disk kept in a file, written in bash with nbdkit's sh plugin calling convention:
#
#   gonbd sh disk.sh file=disk.img
#
# Every method is one run of this script; $tmpdir keeps the file's name between runs.
# Extents are computed per 64 KiB block: all-zero blocks are reported as holes that
# read as zeroes, so that the answer depends on the contents alone.

file="$tmpdir/file"
block=65536

case "$1" in
    config)
        case "$2" in
            file) ln -sf "$(realpath "$3")" "$file" ;;
            *) echo "EINVAL unknown parameter $2" >&2; exit 1 ;;
        esac ;;
    config_complete)
        if [ ! -L "$file" ]; then echo "EINVAL file=DISK is required" >&2; exit 1; fi ;;
    thread_model)
        echo parallel ;;
    open)
        echo "disk-$2" ;;
    get_size)
        stat -L -c %s "$file" ;;
    can_write|can_flush|can_trim|can_zero|can_extents|can_multi_conn)
        exit 0 ;;
    can_fua)
        echo native ;;
    pread)
        dd if="$file" skip="$4" count="$3" bs=64k iflag=skip_bytes,count_bytes status=none ;;
    pwrite)
        dd of="$file" seek="$4" bs=64k iflag=fullblock oflag=seek_bytes conv=notrunc status=none ;;
    flush)
        sync "$file" ;;
    trim|zero)
        dd if=/dev/zero of="$file" seek="$4" count="$3" bs=64k iflag=count_bytes oflag=seek_bytes conv=notrunc status=none ;;
    extents)
        size=$(stat -L -c %s "$file")
        end=$(( $4 + $3 ))
        for (( off = $4 / block * block; off < end && off < size; off += block )); do
            len=$(( size - off < block ? size - off : block ))
            if cmp -s -n "$len" -i "$off:0" "$file" /dev/zero; then
                echo "$off $len hole,zero"
            else
                echo "$off $len"
            fi
            case "$5" in *req_one*) break ;; esac
        done ;;
    *)
        exit 2 ;;
esac
