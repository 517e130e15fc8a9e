package sdktest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/oftp2/connector/sdk"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// ServeGRPC serves p's gRPC services on a 127.0.0.1 TCP socket in this
// process and returns a client connected to them. It exercises the wire
// protocol (chunking, error details) without a separate process.
func ServeGRPC(t testing.TB, p sdk.Plugin) *sdk.RemotePlugin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sdk.NewGRPCServer(p)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	transport := sdk.NewHostTransport()
	conn, err := grpc.NewClient(ln.Addr().String(), append(transport.DialOptions, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		srv.Stop()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
	})
	return transport.RemotePlugin(conn)
}

// ServeGRPCDataPlane is ServeGRPC with the data plane: file bytes of sink
// writes and source reads travel through pipes passed over a Unix socket
// pair, as between the connector and a plugin process. It fails the test
// where the data plane is not available.
func ServeGRPCDataPlane(t testing.TB, p sdk.Plugin) *sdk.RemotePlugin {
	t.Helper()
	dp, err := sdk.NewDataPlane()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		dp.Close()
		t.Fatal(err)
	}
	srv, err := sdk.NewGRPCServerWithDataPlane(p, dp)
	if err != nil {
		dp.Close()
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	transport := sdk.NewHostTransport()
	conn, err := grpc.NewClient(ln.Addr().String(), append(transport.DialOptions, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		srv.Stop()
		dp.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
		dp.Close()
	})
	rp := transport.RemotePlugin(conn)
	rp.OfferDataPlane(dp)
	if _, err := rp.Describe(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !rp.DataPlane() {
		t.Fatal("the in-process plugin did not take the data plane")
	}
	return rp
}

// BuildPlugin compiles the main package pkg (an import path or a directory)
// into a temporary directory and returns the executable's path.
func BuildPlugin(t testing.TB, pkg string) string {
	t.Helper()
	name := filepath.Base(pkg)
	if name == "." || name == string(filepath.Separator) {
		name = "plugin"
	}
	out := filepath.Join(t.TempDir(), name)
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build %s: %v", pkg, err)
	}
	return out
}

// Launch starts a plugin executable as the connector does (go-plugin
// handshake, gRPC, automatic mutual TLS, the data plane where the system has
// it) and returns the dispensed plugin. File bytes go through the data plane
// from the first Describe on, if the plugin takes it (RemotePlugin.DataPlane).
// The process is stopped when the test ends.
func Launch(t testing.TB, cmd *exec.Cmd) *sdk.RemotePlugin {
	t.Helper()
	dp, err := sdk.NewDataPlane()
	if err == nil {
		dp.Attach(cmd)
		t.Cleanup(func() { dp.Close() })
	}
	transport := sdk.NewHostTransport()
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.HandshakeConfig(),
		VersionedPlugins: transport.PluginSets,
		GRPCDialOptions:  transport.DialOptions,
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		// Plugin log lines outlive the test; stderr is always safe to write.
		Logger: hclog.New(&hclog.LoggerOptions{Name: "sdktest", Output: os.Stderr, Level: hclog.Warn}),
	})
	t.Cleanup(client.Kill)
	rpc, err := client.Client()
	if dp != nil {
		dp.Started()
	}
	if err != nil {
		t.Fatalf("start plugin %s: %v", cmd.Path, err)
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		t.Fatalf("dispense plugin %s: %v", cmd.Path, err)
	}
	rp := raw.(*sdk.RemotePlugin)
	if dp != nil {
		rp.OfferDataPlane(dp)
	}
	return rp
}

// Configure describes and configures a remote plugin, failing the test on error.
func Configure(t testing.TB, p *sdk.RemotePlugin, configJSON string) sdk.Info {
	t.Helper()
	ctx := context.Background()
	info, err := p.Describe(ctx)
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	if err := p.Configure(ctx, []byte(configJSON)); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return info
}
