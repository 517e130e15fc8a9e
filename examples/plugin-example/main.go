// Command plugin-example is a complete connector plugin written with the
// sdk package alone: a key plugin ("keys.pemdir") that signs and decrypts
// with PEM private keys kept in a directory. Each key ID names a pair of
// files, ID.key (PKCS #8, PKCS #1 or SEC 1) and ID.crt (the chain, leaf first).
//
// Build it, pin its SHA-256 in the connector's configuration, and the
// connector starts it when a pipeline needs one of its keys.
package main

import (
	"log/slog"

	"github.com/oftp2/connector/sdk"
)

func main() {
	// Create the logger before Serve: Serve redirects os.Stderr.
	log := sdk.Logger(nil, slog.LevelInfo)
	k := &pemKeys{log: log}
	sdk.Serve(sdk.Plugin{
		Name:    "keys.pemdir",
		Version: "1.0.0",
		Schema: sdk.ConfigSchema{Attributes: []sdk.Attribute{
			{Name: "dir", Type: sdk.TypeString, Required: true, Description: "Directory holding ID.key and ID.crt files."},
		}},
		Configure: k.Configure,
		Keys:      k,
	})
}
