package pipeline

import (
	"context"
	"errors"
	"time"

	"github.com/oftp2/connector/core/oftp"
)

// FileKey identifies a virtual file the way RFC 5024 does: originator, dataset name and
// the date and time stamp. Duplicate detection and end-response matching use it.
type FileKey struct {
	Originator  string `json:"orig"`
	DatasetName string `json:"dsn"`
	Date        string `json:"date"`
	Time        string `json:"time"`
}

func (k FileKey) String() string {
	return k.Originator + "/" + k.DatasetName + "/" + k.Date + k.Time
}

// keyOfIncoming is the identity of a file a partner sends us.
func keyOfIncoming(f *oftp.IncomingFile) FileKey {
	return FileKey{Originator: f.Originator, DatasetName: f.DatasetName, Date: f.Stamp.Date, Time: f.Stamp.Time}
}

// keyOfResponse is the identity of the file an EERP/NERP answers: its Destination is the
// file's originator.
func keyOfResponse(er *oftp.EndResponse) FileKey {
	return FileKey{Originator: er.Destination, DatasetName: er.DatasetName, Date: er.Stamp.Date, Time: er.Stamp.Time}
}

// Owed is an end response we still have to send to a partner (an EERP after a commit,
// or a NERP after a permanent delivery failure).
type Owed struct {
	Partner  string           `json:"partner"`
	Key      FileKey          `json:"key"`
	Response oftp.EndResponse `json:"response"`
	Since    time.Time        `json:"since"`
}

// Expected is a file handed to a partner whose end response we wait for. It is recorded
// before the file is offered, so that an EERP arriving in another session is never lost.
type Expected struct {
	Partner  string    `json:"partner"`
	Outbound string    `json:"outbound"`
	Source   string    `json:"source"`
	ID       string    `json:"id"`
	Key      FileKey   `json:"key"`
	Since    time.Time `json:"since"`
	// Accepted is set once the partner answered EFPA (or SFNA 13: it has the file).
	Accepted bool `json:"accepted,omitempty"`
	// Response is the partner's EERP or NERP, once received; the source has not yet
	// been told (Ack/Nack) while the entry exists.
	Response *oftp.EndResponse `json:"response,omitempty"`
}

// ErrDuplicate is returned by Store.CommitReceived for a file already recorded.
var ErrDuplicate = errors.New("pipeline: file already received")

// Store keeps what must survive a restart: files received (duplicate detection), end
// responses owed to partners and end responses expected from them. The file store in
// the state directory implements it; a database can replace it.
type Store interface {
	// Received reports whether the file was committed before.
	Received(ctx context.Context, key FileKey) (bool, error)
	// Receiving records, before the sink may commit, the object name a file is being
	// stored under. After a crash between the sink's commit and CommitReceived it tells
	// the retried file's receiver where to look. It returns the name recorded by an
	// earlier attempt, if any, which the new attempt must reuse.
	Receiving(ctx context.Context, key FileKey, object string) (string, error)
	// ReceivingAborted clears the Receiving record of a file the sink discarded.
	ReceivingAborted(ctx context.Context, key FileKey) error
	// CommitReceived records a committed file together with the end response owed for
	// it, in one durable step, and clears its Receiving record. It returns ErrDuplicate
	// when the file is known.
	CommitReceived(ctx context.Context, key FileKey, object string, owed Owed) error
	// AddOwed records an end response to send (a NERP for a file that failed).
	AddOwed(ctx context.Context, owed Owed) error
	// Owed lists the end responses owed to partner, oldest first.
	Owed(ctx context.Context, partner string) ([]Owed, error)
	// OwedSent forgets an end response once the partner confirmed it (RTR), or when it
	// can never be sent.
	OwedSent(ctx context.Context, partner string, key FileKey) error

	// Expect records a file about to be offered to a partner.
	Expect(ctx context.Context, e Expected) error
	// Accepted marks an expected file as taken by the partner (EFPA).
	Accepted(ctx context.Context, key FileKey) error
	// Unexpect forgets a file the partner did not take, unless its end response has
	// already arrived.
	Unexpect(ctx context.Context, key FileKey) error
	// Respond records the partner's end response for an expected file; it reports
	// false when no such file is expected.
	Respond(ctx context.Context, er oftp.EndResponse) (bool, error)
	// Settled forgets an expected file once its source was told the outcome.
	Settled(ctx context.Context, key FileKey) error
	// ExpectedFile returns the expected file with key, if any.
	ExpectedFile(ctx context.Context, key FileKey) (Expected, bool, error)
	// ExpectedFiles lists every expected file.
	ExpectedFiles(ctx context.Context) ([]Expected, error)

	Close() error
}
