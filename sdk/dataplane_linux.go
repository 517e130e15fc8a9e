package sdk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// DataPlane is the connector's end of one plugin process's data plane: a
// Unix socket over which it passes a pipe per transfer. NewDataPlane creates
// it before the process starts, Attach hands the other end to the process,
// and RemotePlugin.OfferDataPlane puts it to use once the plugin says it
// holds that end.
type DataPlane struct {
	conn     *net.UnixConn
	pipeSize int
	next     atomic.Uint64

	mu    sync.Mutex
	child *os.File // the plugin's end, until the process has started
}

// NewDataPlane creates the socket pair of a plugin's data plane. On systems
// without it, it returns an error matching ErrUnsupported and file bytes
// travel as gRPC chunks.
func NewDataPlane() (*DataPlane, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_SEQPACKET|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: socket pair: %v", ErrDataPlane, err)
	}
	conn, err := unixConn(os.NewFile(uintptr(fds[0]), "dataplane"))
	if err != nil {
		syscall.Close(fds[1])
		return nil, err
	}
	return &DataPlane{conn: conn, child: os.NewFile(uintptr(fds[1]), "dataplane-plugin"), pipeSize: pipeBufSize}, nil
}

// unixConn turns a socket file into a connection and closes the file (the
// connection holds its own descriptor).
func unixConn(f *os.File) (*net.UnixConn, error) {
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDataPlane, err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("%w: descriptor is a %T, not a Unix socket", ErrDataPlane, c)
	}
	return uc, nil
}

// Attach makes cmd inherit the plugin's end of the socket and tells the
// plugin its descriptor number through DataPlaneEnv.
func (d *DataPlane) Attach(cmd *exec.Cmd) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.child == nil {
		return
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, d.child)
	// ExtraFiles[i] becomes descriptor 3+i in the child.
	cmd.Env = append(cmd.Env, DataPlaneEnv+"="+strconv.Itoa(2+len(cmd.ExtraFiles)))
}

// Started closes this process's copy of the plugin's end once the process
// has inherited it (or failed to start).
func (d *DataPlane) Started() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.child != nil {
		d.child.Close()
		d.child = nil
	}
}

// Close closes both ends held by this process. Pipes already passed stay
// usable until their transfers end.
func (d *DataPlane) Close() error {
	d.Started()
	return d.conn.Close()
}

// takeChild hands the plugin's end to an in-process server.
func (d *DataPlane) takeChild() *os.File {
	d.mu.Lock()
	defer d.mu.Unlock()
	f := d.child
	d.child = nil
	return f
}

// newTransfer creates a pipe, passes the plugin's end of it with a fresh
// transfer id and returns the connector's end. kind says which end the
// plugin gets.
func (d *DataPlane) newTransfer(kind byte) (uint64, *os.File, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return 0, nil, fmt.Errorf("%w: pipe: %v", ErrDataPlane, err)
	}
	setPipeSize(w, d.pipeSize)
	mine, theirs := w, r
	if kind == transferSource {
		mine, theirs = r, w
	}
	id := d.next.Add(1)
	err = sendFile(d.conn, encodeTransfer(kind, id), theirs)
	theirs.Close()
	if err != nil {
		mine.Close()
		// The plugin's end of the socket is gone: the process died.
		return 0, nil, &RemoteError{Message: "pass pipe to plugin: " + err.Error(), Advice: AdviceRetry, kind: ErrConnection}
	}
	return id, mine, nil
}

func sendFile(conn *net.UnixConn, msg []byte, f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		_, _, serr = conn.WriteMsgUnix(msg, syscall.UnixRights(int(fd)), nil)
	}); err != nil {
		return err
	}
	return serr
}

// setPipeSize enlarges the pipe's kernel buffer; failing that (a limit
// below size) the default stays.
func setPipeSize(f *os.File, size int) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) { _, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, size) })
}

// inboxFromEnv opens the data-plane socket a plugin process inherited, if
// DataPlaneEnv names one; nil when it does not.
func inboxFromEnv() (*pipeInbox, error) {
	v, ok := os.LookupEnv(DataPlaneEnv)
	if !ok {
		return nil, nil
	}
	// The plugin's own children must not see or inherit the socket.
	os.Unsetenv(DataPlaneEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("%w: %s=%q is not an inherited descriptor", ErrDataPlane, DataPlaneEnv, v)
	}
	syscall.CloseOnExec(fd)
	return inboxFromFile(os.NewFile(uintptr(fd), "dataplane"))
}

// inboxFromFile serves the plugin's end of a data-plane socket.
func inboxFromFile(f *os.File) (*pipeInbox, error) {
	conn, err := unixConn(f)
	if err != nil {
		return nil, err
	}
	if conn.LocalAddr().Network() != "unixpacket" {
		conn.Close()
		return nil, fmt.Errorf("%w: the inherited socket is not a packet socket", ErrDataPlane)
	}
	return newPipeInbox(func(deliver func(byte, uint64, *os.File)) error {
		return receivePipes(conn, deliver)
	}, conn.Close), nil
}

// maxPassedFDs bounds the descriptors one message may carry; all but a
// well-formed message's single pipe are closed.
const maxPassedFDs = 8

// receivePipes reads data-plane messages until the socket closes.
func receivePipes(conn *net.UnixConn, deliver func(byte, uint64, *os.File)) error {
	buf := make([]byte, transferMsgLen+1)
	oob := make([]byte, syscall.CmsgSpace(4*maxPassedFDs))
	for {
		n, oobn, flags, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			return err
		}
		if n == 0 && oobn == 0 {
			return errors.New("data-plane socket closed")
		}
		kind, id, fds, err := parseTransfer(buf[:n], oob[:oobn])
		if err == nil && (len(fds) != 1 || flags&(syscall.MSG_CTRUNC|syscall.MSG_TRUNC) != 0) {
			err = fmt.Errorf("%w: message with %d descriptors", ErrDataPlane, len(fds))
		}
		if err != nil {
			for _, fd := range fds {
				syscall.Close(fd)
			}
			continue
		}
		// Received descriptors are close-on-exec (MSG_CMSG_CLOEXEC); the
		// pipe is non-blocking, so reads and writes on it can be
		// interrupted through deadlines.
		_ = syscall.SetNonblock(fds[0], true)
		deliver(kind, id, os.NewFile(uintptr(fds[0]), "transfer-pipe"))
	}
}

// parseTransfer decodes a data-plane message and the descriptors in its
// ancillary data. The descriptors are returned even when the message is
// invalid, so that the caller can close them.
func parseTransfer(msg, oob []byte) (kind byte, id uint64, fds []int, err error) {
	cmsgs, cerr := syscall.ParseSocketControlMessage(oob)
	for _, m := range cmsgs {
		// syscall.ParseUnixRights indexes past its slice when the data is
		// not a whole number of descriptors, so the descriptors are read
		// here; the kernel never sends such a message, a fuzzer does.
		if m.Header.Level != syscall.SOL_SOCKET || m.Header.Type != syscall.SCM_RIGHTS || len(m.Data)%4 != 0 {
			continue
		}
		for i := 0; i < len(m.Data); i += 4 {
			fds = append(fds, int(int32(binary.NativeEndian.Uint32(m.Data[i:]))))
		}
	}
	if cerr != nil {
		return 0, 0, fds, fmt.Errorf("%w: control message: %v", ErrDataPlane, cerr)
	}
	kind, id, err = decodeTransfer(msg)
	return kind, id, fds, err
}
