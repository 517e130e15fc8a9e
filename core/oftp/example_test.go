package oftp_test

import (
	"context"
	"errors"
	"log"
	"log/slog"
	"os"

	"github.com/oftp2/connector/core/oftp"
)

// A responder for two partners that stores received files in a directory and sends one
// partner the files of its outbox when that partner hands over the turn.
func ExampleServer() {
	opts := oftp.DefaultOptions()
	opts.SSIDCode, opts.Password = "O0013ACME", "SECRET"
	opts.DownloadDirectory = "/var/oftp/in"
	opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	srv := &oftp.Server{
		Options: opts,
		Partners: oftp.Partners{
			"O0013PARTNERA": {Password: "APASS", Outbox: &oftp.DirectoryOutbox{Dir: "/var/oftp/out/a"}},
			"O0013PARTNERB": {Password: "BPASS", Configure: func(o *oftp.Options) { o.Version = oftp.Version14 }},
		},
	}
	log.Fatal(srv.ListenAndServe("127.0.0.1:3305"))
}

// An initiator that sends one file, collects what the partner has for it, and logs off.
func ExampleClient() {
	opts := oftp.DefaultOptions()
	opts.SSIDCode, opts.Password = "O0013PARTNERA", "APASS"
	opts.PartnerSSIDCode, opts.PartnerPassword = "O0013ACME", "SECRET"
	opts.DownloadDirectory = "/var/oftp/in"
	opts.Events.EndResponse = func(e oftp.EndResponseEvent) {
		log.Printf("%s answered %s: reason %d", e.Originator, e.DatasetName, e.Reason)
	}
	ctx := context.Background()
	c, err := oftp.Dial(ctx, "oftp.example.com:3305", opts)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Disconnect()
	_, err = c.SendFile(ctx, &oftp.OutgoingFile{
		DatasetName: "INVOICES",
		Format:      oftp.FormatUnstructured,
		Source:      oftp.FileSource{Path: "/var/oftp/invoices.edi"},
	})
	var re *oftp.ReasonError
	if errors.As(err, &re) && re.Retry {
		log.Printf("refused for now (%s %02d), try again later", re.Cmd, re.Code)
	} else if err != nil {
		log.Fatal(err)
	}
	files, err := c.ReceiveFiles(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range files {
		log.Printf("received %s at %s", f.File.DatasetName, f.Location)
	}
	if err := c.Logoff(ctx); err != nil {
		log.Fatal(err)
	}
}
