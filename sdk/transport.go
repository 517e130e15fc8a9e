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

// HostTransport is what the connector's plugin host gives go-plugin for one
// plugin client: the plugin sets to negotiate and the dial options. Both
// share a codec that decodes file chunks into pooled buffers.
type HostTransport struct {
	// PluginSets is keyed by protocol version; dispensing PluginName yields
	// a *RemotePlugin.
	PluginSets map[int]plugin.PluginSet
	// DialOptions tune flow control and set the chunk codec.
	DialOptions []grpc.DialOption

	codec *chunkCodec
}

// NewHostTransport returns a HostTransport for one plugin client.
func NewHostTransport() HostTransport {
	c := newChunkCodec()
	return HostTransport{
		PluginSets:  map[int]plugin.PluginSet{ProtocolVersion: {pluginName: &grpcPlugin{codec: c}}},
		DialOptions: append(dialOptions(), grpc.WithDefaultCallOptions(grpc.ForceCodecV2(c))),
		codec:       c,
	}
}

// RemotePlugin wraps a connection dialled with t.DialOptions.
func (t HostTransport) RemotePlugin(conn grpc.ClientConnInterface) *RemotePlugin {
	rp := NewRemotePlugin(conn)
	rp.codec = t.codec
	return rp
}

// Flow-control windows and socket buffers sized for streaming file chunks:
// gRPC's defaults (64 KiB windows, 32 KiB buffers) stall a 1 MiB-chunk
// stream on window updates.
const (
	streamWindow = 8 << 20
	ioBuffer     = 1 << 20
)

// dialOptions match GRPCServerOptions.
func dialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithInitialWindowSize(streamWindow),
		grpc.WithInitialConnWindowSize(streamWindow),
		grpc.WithReadBufferSize(ioBuffer),
		grpc.WithWriteBufferSize(ioBuffer),
	}
}

// GRPCServerOptions returns the server options a plugin process uses; they
// match the host's dial options.
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

// servePluginSets is the plugin's side of HostTransport.PluginSets.
func servePluginSets(s *server) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolVersion: {pluginName: &grpcPlugin{srv: s}},
	}
}

// grpcPlugin adapts a Plugin to go-plugin's GRPCPlugin.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	srv   *server     // the plugin's side
	codec *chunkCodec // the host's side
}

func (g *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	g.srv.register(s)
	return nil
}

func (g *grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	rp := NewRemotePlugin(c)
	rp.codec = g.codec
	return rp, nil
}
