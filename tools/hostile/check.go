package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/gonbd/gonbd/protocol/client"
)

// The layout of the export: the reference data, and where a well-behaved client writes
// to prove the server still writes. Attacks write, if at all, past attackArea.
const (
	referenceSize = 1 << 20
	probeOffset   = 2 << 20
	attackArea    = 4 << 20
	minExportSize = 8 << 20
)

// attacker holds the state of a run: the configuration, the checksum of the reference
// data, and how many connections the current attack made.
type attacker struct {
	config
	log       io.Writer
	reference [sha256.Size]byte
	probes    uint64
	conns     int
}

// dialClient connects a well-behaved client.
func (a *attacker) dialClient(ctx context.Context) (*client.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, connDeadline)
	defer cancel()
	c, err := client.Dial(ctx, a.network, a.address, &client.Options{ExportName: a.export})
	if err != nil {
		return nil, fmt.Errorf("a well-behaved client cannot connect: %w", err)
	}
	if c.Size() < minExportSize {
		c.Close()
		return nil, fmt.Errorf("the export has %d bytes; hostile needs %d at least", c.Size(), minExportSize)
	}
	return c, nil
}

// writeReference writes the reference data with a seeded pattern and flushes it.
func (a *attacker) writeReference(ctx context.Context) error {
	c, err := a.dialClient(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	data := make([]byte, referenceSize)
	rng := rand.New(rand.NewPCG(a.seed, 0x7265666572656e63))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	a.reference = sha256.Sum256(data)
	ctx, cancel := context.WithTimeout(ctx, connDeadline)
	defer cancel()
	if err := c.WriteAt(ctx, data, 0, 0); err != nil {
		return fmt.Errorf("write the reference data: %w", err)
	}
	if err := c.Flush(ctx, 0); err != nil {
		return fmt.Errorf("flush the reference data: %w", err)
	}
	c.Disconnect(ctx)
	return nil
}

// check proves that the server serves a fresh client: the reference data reads back
// intact, and a write reads back.
func (a *attacker) check(ctx context.Context) error {
	c, err := a.dialClient(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, connDeadline)
	defer cancel()
	got := make([]byte, referenceSize)
	if err := c.ReadAt(ctx, got, 0, 0); err != nil {
		return fmt.Errorf("read the reference data: %w", err)
	}
	if sha256.Sum256(got) != a.reference {
		return errors.New("the reference data written and flushed before the attacks changed")
	}
	a.probes++
	probe := bytes.Repeat([]byte(fmt.Sprintf("probe %08d ", a.probes)), 4096/15+1)[:4096]
	if err := c.WriteAt(ctx, probe, probeOffset, 0); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	back := make([]byte, len(probe))
	if err := c.ReadAt(ctx, back, probeOffset, 0); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if !bytes.Equal(back, probe) {
		return errors.New("a write did not read back")
	}
	// The replies are in: how the close itself goes proves nothing more (the client
	// may report the server's prompt hang-up after NBD_CMD_DISC as an error).
	c.Disconnect(ctx)
	return nil
}
