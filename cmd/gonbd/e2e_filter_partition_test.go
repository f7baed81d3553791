package main

// End-to-end tests of the partition filter through the gonbd binary, in front of the
// partitioning plugin: taking a partition back out of the disk the plugin makes gives
// the file back.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestE2EFilterPartition(t *testing.T) {
	e2eStart(t, "qemu-img", "qemu-io", "nbdinfo")
	dir := t.TempDir()
	var files []string
	for i := range 6 {
		f, _ := e2eRandomFile(t, dir, int64(i+1)*64<<10) // sizes are multiples of 512
		files = append(files, f)
	}
	for _, tt := range []struct {
		table string
		n     int
	}{{"mbr", 1}, {"mbr", 4}, {"mbr", 6}, {"gpt", 2}, {"gpt", 6}} {
		t.Run(fmt.Sprintf("%s-%d", tt.table, tt.n), func(t *testing.T) {
			// In an MBR table, file 4 and up are the logical partitions 5 and up.
			file, number := tt.n-1, tt.n
			if tt.table == "mbr" && tt.n > 3 {
				number = tt.n + 1
			}
			args := append([]string{"--filter=partition", "partitioning", "partition-type=" + tt.table,
				fmt.Sprintf("partition=%d", number)}, files...)
			want, _ := e2eFileSHA256(t, files[file]) // earlier runs wrote to the files
			s := e2eUnix(t, args...)
			out := filepath.Join(t.TempDir(), "out.img")
			e2eMustRun(t, "qemu-img", "convert", "-f", "raw", s.URI, "-O", "raw", out)
			if sum, _ := e2eFileSHA256(t, out); sum != want {
				t.Fatalf("partition %d does not read as file %d", number, file+1)
			}
			e2eQemuIO(t, s.URI, "write -P 0x77 0 4k", "flush")
			got, err := os.ReadFile(files[file])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got[:4096], bytes.Repeat([]byte{0x77}, 4096)) {
				t.Errorf("a write to partition %d did not reach the start of file %d", number, file+1)
			}
		})
	}

	// A partition the disk does not have: the server runs, the opening fails and says why.
	s := e2eUnix(t, "--filter=partition", "partitioning", "partition=9", files[0], files[1])
	if r := e2eRun(t, "nbdinfo", s.URI); r.Code == 0 {
		t.Errorf("nbdinfo of a missing partition succeeded: %s", r)
	}
	if log := s.Stderr.String(); !e2eNbdkit() && !strings.Contains(log, "partition=9: MBR partition 9 is a logical partition, but the table has no extended partition") {
		t.Errorf("the server's log does not say why partition 9 failed:\n%s", log)
	}
}

func TestE2EFilterPartitionBadParameters(t *testing.T) {
	e2eStart(t)
	f, _ := e2eRandomFile(t, t.TempDir(), 4096)
	bin := e2eServerBinary(t)
	sock := filepath.Join(t.TempDir(), "sock")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--filter=partition", "partitioning", f}, "missing required parameter partition"},
		{[]string{"--filter=partition", "partitioning", f, "partition=0"}, "partition=0: partitions are numbered from 1"},
		{[]string{"--filter=partition", "partitioning", f, "partition=one"}, "partition=one"},
	} {
		r := e2eRun(t, bin, append([]string{"-U", sock}, tt.args...)...)
		if r.Code != 1 || !strings.Contains(r.Stderr, tt.want) {
			t.Errorf("gonbd %q: %s\nwant exit status 1 and %q", tt.args, r, tt.want)
		}
	}
}
