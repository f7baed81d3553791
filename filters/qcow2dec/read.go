package qcow2dec

import (
	"context"
	"fmt"

	"github.com/gonbd/gonbd/server"
)

// readAt fills p with the virtual disk's bytes at off, cluster by cluster.
func (img *image) readAt(ctx context.Context, p []byte, off int64) error {
	cs := img.h.clusterSize()
	for len(p) > 0 {
		inCluster := off & (cs - 1)
		n := min(int64(len(p)), cs-inCluster)
		m, err := img.lookup(ctx, off)
		if err != nil {
			return err
		}
		if err := img.readMapped(ctx, m, p[:n], inCluster); err != nil {
			return err
		}
		p, off = p[n:], off+n
	}
	return nil
}

// readMapped fills p with the bytes at inCluster of the cluster m maps.
func (img *image) readMapped(ctx context.Context, m mapping, p []byte, inCluster int64) error {
	switch m.kind {
	case unallocated, zeroes:
		clear(p)
		return nil
	case compressed:
		cluster, err := img.decompressed(ctx, m)
		if err != nil {
			return err
		}
		copy(p, cluster[inCluster:])
		return nil
	}
	if !img.h.extendedL2 {
		return img.readData(ctx, p, m.host+inCluster)
	}
	sub := img.h.clusterSize() / subclusters
	for len(p) > 0 {
		i := uint(inCluster / sub)
		n := min(int64(len(p)), sub-inCluster%sub)
		if m.subcluster(i) == data {
			if err := img.readData(ctx, p[:n], m.host+inCluster); err != nil {
				return err
			}
		} else {
			clear(p[:n])
		}
		p, inCluster = p[n:], inCluster+n
	}
	return nil
}

// readData reads guest data stored as is in the file.
func (img *image) readData(ctx context.Context, p []byte, host int64) error {
	if host > img.fileSize-int64(len(p)) {
		return corrupt("data [%d, %d) runs past the end of the %d-byte file", host, host+int64(len(p)), img.fileSize)
	}
	if err := img.next.ReadAt(ctx, p, host, 0); err != nil {
		return fmt.Errorf("reading a data cluster at %d: %w", host, err)
	}
	return nil
}

// decompressed returns the cluster m maps, decompressed, from the cache or the file.
func (img *image) decompressed(ctx context.Context, m mapping) ([]byte, error) {
	if cluster, ok := img.clusters.get(m.host); ok {
		return cluster, nil
	}
	src := make([]byte, m.csize)
	if err := img.next.ReadAt(ctx, src, m.host, 0); err != nil {
		return nil, fmt.Errorf("reading a compressed cluster at %d: %w", m.host, err)
	}
	cluster := make([]byte, img.h.clusterSize())
	if err := img.f.decompress(img.h.compression, cluster, src); err != nil {
		return nil, corrupt("compressed cluster at %d (%d bytes): %v", m.host, m.csize, err)
	}
	img.clusters.add(m.host, cluster)
	return cluster, nil
}

// prefetch reads the L2 tables of [off, off+length) and decompresses its compressed
// clusters into the caches. The caches keep what fits: a range larger than they hold
// leaves its end cached.
func (img *image) prefetch(ctx context.Context, off, length int64) error {
	cs := img.h.clusterSize()
	for end := off + length; off < end; off = off&^(cs-1) + cs {
		m, err := img.lookup(ctx, off)
		if err != nil {
			return err
		}
		if m.kind == compressed {
			if _, err := img.decompressed(ctx, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// extents adds the extents of [off, off+length) to e.
func (img *image) extents(ctx context.Context, off, length int64, e *server.ExtentList) error {
	h := img.h
	cs := h.clusterSize()
	end := min(off+length, h.size)
	for off < end {
		cluster := off >> h.clusterBits
		start := cluster << h.clusterBits
		// A whole L2 table's worth of clusters is a hole when the L1 entry is empty.
		if l1Entry := img.l1[cluster/h.l2Entries()]; l1Entry&offsetMask == 0 && l1Entry&l1Reserved == 0 {
			span := h.l2Entries() << h.clusterBits
			next := min(start/span*span+span, h.size)
			if err := e.Add(start, next-start, server.ExtentHole|server.ExtentZero); err != nil {
				return err
			}
			off = next
			continue
		}
		m, err := img.lookup(ctx, off)
		if err != nil {
			return err
		}
		if err := img.addExtents(m, start, min(cs, h.size-start), e); err != nil {
			return err
		}
		off = start + cs
	}
	return nil
}

// addExtents adds the extents of the cluster at start, of length bytes, that m maps.
func (img *image) addExtents(m mapping, start, length int64, e *server.ExtentList) error {
	if !img.h.extendedL2 || m.kind != data {
		return e.Add(start, length, extentType(m.kind))
	}
	sub := img.h.clusterSize() / subclusters
	for i := uint(0); int64(i)*sub < length; i++ {
		n := min(sub, length-int64(i)*sub)
		if err := e.Add(start+int64(i)*sub, n, extentType(m.subcluster(i))); err != nil {
			return err
		}
	}
	return nil
}

// extentType is how base:allocation describes a (sub)cluster of kind k. As QEMU
// reports them, zero clusters are holes too, even those with storage reserved: what
// tells a client to skip them is that they hold no data.
func extentType(k clusterKind) server.ExtentType {
	if k == data || k == compressed {
		return server.ExtentData
	}
	return server.ExtentHole | server.ExtentZero
}
