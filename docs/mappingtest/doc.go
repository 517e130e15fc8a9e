// Package mappingtest keeps docs/seed-mapping.md honest. Its test reads the OFTPClient
// reference the product covers, and checks that every property, method, event, event
// parameter, config setting and error code has a row in the mapping, and that every Go
// identifier, CLI flag and HCL attribute the mapping names exists in the tree.
//
// The package holds no code of its own; run it with
//
//	go test ./docs/mappingtest/
package mappingtest
