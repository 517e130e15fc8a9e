// Package sdk is what a connector plugin imports: the Sink, Source and Keys
// interfaces, the metadata and error types that cross the process boundary,
// and Serve, which runs a plugin as a process the connector starts.
//
// A plugin is a small main package:
//
//	func main() {
//		s := mysink.New()
//		sdk.Serve(sdk.Plugin{Name: "sink.mine", Version: "1.0.0", Schema: s.Schema(), Configure: s.Configure, Sink: s})
//	}
//
// The connector starts the executable, negotiates the protocol version over
// hashicorp/go-plugin (gRPC, mutual TLS), asks the plugin to describe itself and
// configures it. File bytes stream through a pipe per transfer, passed over a
// socket the process inherits (the data plane, on Linux), or as gRPC chunks
// where that is not available; a file never has to fit in memory. Serve sets
// up the plugin's side of both; plugin code sees only io.Writer and io.Reader.
// Errors returned by a plugin keep their retry advice (Retryable, Permanent),
// their kind (ErrExists, ErrNotFound) and, for configuration errors, the
// attribute they concern.
//
// Package sdk/sdktest holds the conformance suite every plugin runs from its tests.
package sdk
