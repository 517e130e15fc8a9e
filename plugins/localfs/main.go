// Command localfs is the connector's local directory plugin as a standalone
// executable. The connector also serves it built in ("connector plugin serve
// localfs"); this binary is for deployments that pin plugins by checksum.
package main

import (
	"github.com/oftp2/connector/plugins/localfs/localfs"
	"github.com/oftp2/connector/sdk"
)

func main() {
	sdk.Serve(localfs.New())
}
