package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/oftp2/connector/core/oftp/certs"
)

func runCert(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "inspect" {
		fmt.Fprintln(stderr, "usage: connector cert inspect [--trust CA.pem] [--crl FILE] [--password PW] FILE")
		return usagef("cert: want the subcommand inspect")
	}
	fs := flag.NewFlagSet("cert inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var trustFiles, crlFiles multiFlag
	fs.Var(&trustFiles, "trust", "PEM or DER file of trusted root certificates (repeatable)")
	fs.Var(&crlFiles, "crl", "CRL file to check revocation against (repeatable)")
	password := fs.String("password", "", "password of a PKCS#12 file")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: connector cert inspect [flags] FILE\n\nExplains a certificate file (PEM, DER or PKCS#12): names, validity, key, usages\nand the OFTP purposes it fits, fingerprints, and whether it chains to --trust.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		return flagError(err)
	}
	if fs.NArg() != 1 {
		return usagef("cert inspect: want exactly one FILE")
	}
	path := fs.Arg(0)
	list, err := certs.LoadCertificates(path)
	if err != nil {
		kp, perr := certs.LoadPKCS12(path, *password)
		if perr != nil {
			return fmt.Errorf("%s: not a PEM or DER certificate (%v), nor a PKCS#12 file (%v)", path, err, perr)
		}
		list = append(list[:0], kp.Leaf)
		list = append(list, kp.Chain...)
	}
	var trust *certs.TrustStore
	if len(trustFiles) > 0 || len(crlFiles) > 0 {
		trust = certs.NewTrustStore(certs.TrustOptions{})
		for _, f := range trustFiles {
			if err := trust.LoadRootsFile(f); err != nil {
				return usageError{err}
			}
		}
		for _, f := range crlFiles {
			if err := trust.LoadCRLFile(f); err != nil {
				return usageError{err}
			}
		}
	}
	return certs.Describe(stdout, list, trust)
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint(*m) }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
