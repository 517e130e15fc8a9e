//go:build !linux

package sdk

import (
	"fmt"
	"os"
	"os/exec"
)

// DataPlane is the connector's end of a plugin's data plane. It exists on
// Linux only; elsewhere file bytes travel as gRPC chunks.
type DataPlane struct{}

// NewDataPlane returns an error matching ErrUnsupported on this system.
func NewDataPlane() (*DataPlane, error) {
	return nil, fmt.Errorf("%w: %w on this operating system", ErrDataPlane, ErrUnsupported)
}

// Attach does nothing here.
func (d *DataPlane) Attach(*exec.Cmd) {}

// Started does nothing here.
func (d *DataPlane) Started() {}

// Close does nothing here.
func (d *DataPlane) Close() error { return nil }

func (d *DataPlane) takeChild() *os.File { return nil }

func (d *DataPlane) newTransfer(byte) (uint64, *os.File, error) {
	return 0, nil, fmt.Errorf("%w: %w", ErrDataPlane, ErrUnsupported)
}

func inboxFromEnv() (*pipeInbox, error) { os.Unsetenv(DataPlaneEnv); return nil, nil }

func inboxFromFile(f *os.File) (*pipeInbox, error) {
	f.Close()
	return nil, fmt.Errorf("%w: %w", ErrDataPlane, ErrUnsupported)
}
