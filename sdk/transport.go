package sdk

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// ProtocolVersion is the newest plugin protocol version this SDK speaks.
// The connector and a plugin agree on the highest version both know.
const ProtocolVersion = 1

// pluginName is the single go-plugin entry every plugin serves; what it can
// do is learned from Describe, not from the entries it dispenses.
const pluginName = "connector"

// HandshakeConfig is the go-plugin handshake between the connector and its
// plugins. The cookie only keeps people from running a plugin by hand; it is
// not a security measure.
func HandshakeConfig() plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  ProtocolVersion,
		MagicCookieKey:   "OFTP2_CONNECTOR_PLUGIN",
		MagicCookieValue: "7c1d0b9e-oftp2-connector-plugin",
	}
}

// HostPluginSets returns the plugin sets, keyed by protocol version, that the
// connector's plugin host offers go-plugin. Dispensing PluginName yields a
// *RemotePlugin.
func HostPluginSets() map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolVersion: {pluginName: &grpcPlugin{}},
	}
}

// Flow-control windows and socket buffers sized for streaming file chunks:
// gRPC's defaults (64 KiB windows, 32 KiB buffers) stall a 1 MiB-chunk
// stream on window updates.
const (
	streamWindow = 8 << 20
	ioBuffer     = 1 << 20
)

// GRPCDialOptions returns the dial options the connector's host uses for
// plugin connections; they match the server options Serve uses.
func GRPCDialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithInitialWindowSize(streamWindow),
		grpc.WithInitialConnWindowSize(streamWindow),
		grpc.WithReadBufferSize(ioBuffer),
		grpc.WithWriteBufferSize(ioBuffer),
	}
}

// GRPCServerOptions returns the server options a plugin process uses; they
// match GRPCDialOptions.
func GRPCServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.InitialWindowSize(streamWindow),
		grpc.InitialConnWindowSize(streamWindow),
		grpc.ReadBufferSize(ioBuffer),
		grpc.WriteBufferSize(ioBuffer),
	}
}

// newGRPCServer returns go-plugin's server constructor for srv: go-plugin's
// options (TLS) plus ours and the chunk codec.
func newGRPCServer(srv *server) func([]grpc.ServerOption) *grpc.Server {
	return func(opts []grpc.ServerOption) *grpc.Server {
		srv.codec = newChunkCodec()
		opts = append(opts, GRPCServerOptions()...)
		return grpc.NewServer(append(opts, grpc.ForceServerCodecV2(srv.codec))...)
	}
}

// PluginName is the name to pass to go-plugin's Dispense.
const PluginName = pluginName

// servePluginSets is the plugin's side of HostPluginSets.
func servePluginSets(s *server) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolVersion: {pluginName: &grpcPlugin{srv: s}},
	}
}

// grpcPlugin adapts a Plugin to go-plugin's GRPCPlugin.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	srv *server
}

func (g *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	g.srv.register(s)
	return nil
}

func (g *grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return NewRemotePlugin(c), nil
}
