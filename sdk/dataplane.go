package sdk

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// The data plane carries the bytes of sink writes and source reads through
// OS pipes instead of gRPC chunk messages. The connector creates a Unix
// socket pair before it starts a plugin and hands one end to the process as
// an inherited file, named by DataPlaneEnv. For each transfer it creates a
// pipe, passes one end over that socket (SCM_RIGHTS) with a transfer id, and
// names the id in the gRPC Write or Read call, which keeps everything else:
// FileMeta, Commit, Abort, errors. An inherited descriptor has no name in the
// file system or the network, so only the two processes can use it; the
// gRPC control channel keeps its mutual TLS.

// DataPlaneEnv names, in a plugin process's environment, the number of the
// inherited file descriptor of its data-plane socket.
const DataPlaneEnv = "OFTP2_PLUGIN_DATA_FD"

// ErrDataPlane reports a failure of the data plane itself (a pipe that never
// arrived, a byte count that does not match). It is retryable.
var ErrDataPlane = errors.New("plugin data plane")

// Transfer kinds: which way the bytes flow through the pipe.
const (
	transferSink   byte = 1 // the connector writes, the plugin reads
	transferSource byte = 2 // the plugin writes, the connector reads
)

// transferMsgLen is the size of a data-plane message: version, kind and the
// transfer id (big endian). Its descriptor travels as ancillary data.
const (
	transferVersion = 1
	transferMsgLen  = 10
)

func encodeTransfer(kind byte, id uint64) []byte {
	b := make([]byte, transferMsgLen)
	b[0], b[1] = transferVersion, kind
	binary.BigEndian.PutUint64(b[2:], id)
	return b
}

// decodeTransfer parses the bytes of a data-plane message.
func decodeTransfer(msg []byte) (kind byte, id uint64, err error) {
	if len(msg) != transferMsgLen {
		return 0, 0, fmt.Errorf("%w: message of %d bytes, want %d", ErrDataPlane, len(msg), transferMsgLen)
	}
	if msg[0] != transferVersion {
		return 0, 0, fmt.Errorf("%w: message version %d", ErrDataPlane, msg[0])
	}
	kind, id = msg[1], binary.BigEndian.Uint64(msg[2:])
	if kind != transferSink && kind != transferSource {
		return 0, 0, fmt.Errorf("%w: unknown transfer kind %d", ErrDataPlane, kind)
	}
	if id == 0 {
		return 0, 0, fmt.Errorf("%w: transfer id 0", ErrDataPlane)
	}
	return kind, id, nil
}

// pipeBufSize is the size of reads and writes on a pipe. The connector asks
// the kernel for a pipe buffer of the same size (F_SETPIPE_SZ) so that one
// side can hand over a whole buffer while the other works on the previous.
const pipeBufSize = 1 << 20

// Bounds on the plugin's wait for a pipe: the connector sends it before the
// gRPC call that names it, so it is normally there already; one whose call
// never came is closed after unclaimedTimeout.
const (
	claimTimeout     = 10 * time.Second
	unclaimedTimeout = time.Minute
)

// pipeInbox is the plugin's end of the data plane: it receives pipes and
// hands each to the gRPC call that names its transfer id.
type pipeInbox struct {
	recv func(func(kind byte, id uint64, f *os.File)) error // blocks until the socket closes
	stop func() error

	mu      sync.Mutex
	arrived map[uint64]*arrivedPipe
	waiting map[uint64]chan *arrivedPipe
	closed  bool
}

type arrivedPipe struct {
	kind  byte
	f     *os.File
	timer *time.Timer
}

func newPipeInbox(recv func(func(byte, uint64, *os.File)) error, stop func() error) *pipeInbox {
	in := &pipeInbox{recv: recv, stop: stop, arrived: map[uint64]*arrivedPipe{}, waiting: map[uint64]chan *arrivedPipe{}}
	go in.run()
	return in
}

func (in *pipeInbox) run() {
	_ = in.recv(in.deliver)
	in.mu.Lock()
	in.closed = true
	for id, a := range in.arrived {
		a.timer.Stop()
		a.f.Close()
		delete(in.arrived, id)
	}
	for id, ch := range in.waiting {
		close(ch)
		delete(in.waiting, id)
	}
	in.mu.Unlock()
}

func (in *pipeInbox) deliver(kind byte, id uint64, f *os.File) {
	in.mu.Lock()
	defer in.mu.Unlock()
	a := &arrivedPipe{kind: kind, f: f}
	if ch, ok := in.waiting[id]; ok {
		delete(in.waiting, id)
		ch <- a
		return
	}
	if in.closed || in.arrived[id] != nil {
		f.Close()
		return
	}
	a.timer = time.AfterFunc(unclaimedTimeout, func() {
		in.mu.Lock()
		defer in.mu.Unlock()
		if in.arrived[id] == a {
			delete(in.arrived, id)
			a.f.Close()
		}
	})
	in.arrived[id] = a
}

// available reports whether the connector's socket is still open.
func (in *pipeInbox) available() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return !in.closed
}

// claim returns the pipe of transfer id, waiting for it to arrive.
func (in *pipeInbox) claim(ctx context.Context, kind byte, id uint64) (*os.File, error) {
	in.mu.Lock()
	if a, ok := in.arrived[id]; ok {
		delete(in.arrived, id)
		a.timer.Stop()
		in.mu.Unlock()
		return checkKind(a, kind, id)
	}
	if in.closed {
		in.mu.Unlock()
		return nil, Retryable(fmt.Errorf("%w: the socket to the connector is closed", ErrDataPlane))
	}
	if _, dup := in.waiting[id]; dup {
		in.mu.Unlock()
		return nil, Permanent(fmt.Errorf("%w: transfer %d claimed twice", ErrDataPlane, id))
	}
	ch := make(chan *arrivedPipe, 1)
	in.waiting[id] = ch
	in.mu.Unlock()
	t := time.NewTimer(claimTimeout)
	defer t.Stop()
	var err error
	select {
	case a, ok := <-ch:
		if !ok {
			return nil, Retryable(fmt.Errorf("%w: the socket to the connector closed", ErrDataPlane))
		}
		return checkKind(a, kind, id)
	case <-ctx.Done():
		err = ctx.Err()
	case <-t.C:
		err = Retryable(fmt.Errorf("%w: the pipe of transfer %d did not arrive within %v", ErrDataPlane, id, claimTimeout))
	}
	in.mu.Lock()
	if in.waiting[id] == ch {
		delete(in.waiting, id)
	}
	in.mu.Unlock()
	// A pipe delivered just now is closed rather than left behind.
	select {
	case a, ok := <-ch:
		if ok {
			a.f.Close()
		}
	default:
	}
	return nil, err
}

func checkKind(a *arrivedPipe, kind byte, id uint64) (*os.File, error) {
	if a.kind != kind {
		a.f.Close()
		return nil, Permanent(fmt.Errorf("%w: transfer %d is of kind %d, the call expects %d", ErrDataPlane, id, a.kind, kind))
	}
	return a.f, nil
}

func (in *pipeInbox) close() error { return in.stop() }

// readFull reads into buf until it is full or the pipe ends; io.EOF only
// when nothing was read.
func readFull(r io.Reader, buf []byte) (int, error) {
	n, err := io.ReadFull(r, buf)
	if err == io.ErrUnexpectedEOF {
		err = nil
	}
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// interruptPipe makes a blocked read or write on f return at once.
func interruptPipe(f *os.File) {
	_ = f.SetDeadline(time.Unix(1, 0))
}
