package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// DebugEnv, set to any value in a plugin's environment, makes Serve run in
// debug mode: started by hand (under a debugger, say), the plugin listens,
// prints a ReattachInfo as JSON on stderr and serves until interrupted. The
// connector then attaches to it instead of starting a process. Debug mode
// has no handshake cookie and no TLS; it is for development only.
const DebugEnv = "OFTP2_PLUGIN_DEBUG"

// ReattachInfo is what the connector needs to attach to a plugin running
// in debug mode.
type ReattachInfo struct {
	Network         string `json:"network"`
	Addr            string `json:"addr"`
	Pid             int    `json:"pid"`
	ProtocolVersion int    `json:"protocol_version"`
}

// ParseReattachInfo decodes the JSON a debug-mode plugin prints.
func ParseReattachInfo(s string) (*ReattachInfo, error) {
	var r ReattachInfo
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return nil, fmt.Errorf("reattach information: %w", err)
	}
	if r.Network == "" || r.Addr == "" || r.Pid <= 0 || r.ProtocolVersion <= 0 {
		return nil, fmt.Errorf("reattach information %q is incomplete", s)
	}
	return &r, nil
}

// serveDebug runs the plugin in debug mode until SIGINT or SIGTERM.
func serveDebug(srv *server, logger hclog.Logger) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	reattach := make(chan *plugin.ReattachConfig, 1)
	closed := make(chan struct{})
	go plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  HandshakeConfig(),
		VersionedPlugins: servePluginSets(srv),
		GRPCServer:       newGRPCServer(srv),
		Logger:           logger,
		Test:             &plugin.ServeTestConfig{Context: ctx, ReattachConfigCh: reattach, CloseCh: closed},
	})
	select {
	case rc := <-reattach:
		b, _ := json.Marshal(ReattachInfo{Network: rc.Addr.Network(), Addr: rc.Addr.String(), Pid: rc.Pid, ProtocolVersion: rc.ProtocolVersion})
		fmt.Fprintf(os.Stderr, "plugin %s is running in debug mode; attach the connector with this reattach information:\n%s\n", srv.p.Name, b)
	case <-closed:
		return
	}
	<-closed
}
