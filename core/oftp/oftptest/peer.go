package oftptest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"reflect"
	"time"

	"github.com/oftp2/connector/core/oftp/internal/wire"
)

// Peer speaks OFTP frames on a connection with no protocol logic of its own, so tests
// can script any sequence, including broken ones.
type Peer struct {
	Conn    net.Conn
	Timeout time.Duration // per read; default 10 s
	r       *wire.Reader
	w       *wire.Writer
}

// NewPeer wraps conn.
func NewPeer(conn net.Conn) *Peer {
	return &Peer{Conn: conn, Timeout: 10 * time.Second, r: wire.NewReader(conn), w: wire.NewWriter(conn)}
}

// WriteOEB sends an exchange buffer with its STH.
func (p *Peer) WriteOEB(oeb []byte) error { return p.w.WriteBuffer(oeb) }

// WriteRaw sends octets as they are.
func (p *Peer) WriteRaw(b []byte) error {
	_, err := p.Conn.Write(b)
	return err
}

// ReadOEB returns the next exchange buffer (a copy).
func (p *Peer) ReadOEB() ([]byte, error) {
	_ = p.Conn.SetReadDeadline(time.Now().Add(p.Timeout))
	b, err := p.r.ReadBuffer()
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), b...), nil
}

// Expect reads the next exchange buffer and checks its command letter.
func (p *Peer) Expect(code byte) ([]byte, error) {
	b, err := p.ReadOEB()
	if err != nil {
		return nil, fmt.Errorf("waiting for %s: %w", wire.CommandName(code), err)
	}
	if b[0] != code {
		return b, fmt.Errorf("got %s %q, want %s", wire.CommandName(b[0]), b, wire.CommandName(code))
	}
	return b, nil
}

// Close closes the connection.
func (p *Peer) Close() error { return p.Conn.Close() }

// Divergence is where our side's frame differs from the recording beyond what the
// replay allows.
type Divergence struct {
	Frame  Frame  // the recorded frame we should have sent
	Got    []byte // our exchange buffer, nil if we sent nothing
	Reason string
}

func (d *Divergence) Error() string {
	got := "nothing"
	if d.Got != nil {
		got = fmt.Sprintf("%s %q", wire.CommandName(d.Got[0]), truncate(d.Got))
	}
	return fmt.Sprintf("oftptest: frame #%d (%s): %s; we sent %s", d.Frame.N, d.Frame.Note, d.Reason, got)
}

func truncate(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}

// Replay plays one side of a capture against a connection to our implementation. Frames
// of the played side are sent as recorded; every frame of the other side is read from
// the connection and compared.
//
// Allowed differences: date/time stamps of SFID/EERP/NERP, reason texts of
// ESID/SFNA/EFNA, DATA buffers compared by content (octets and record ends), and the
// frames listed in Loose, where only the command letter must match (the recorded side
// deviated from the RFC there, and we do not).
type Replay struct {
	Capture *Capture
	// Plays is the recorded side the scripted peer takes: FromResponder to test our
	// initiator, FromInitiator to test our responder.
	Plays Dir
	// Loose lists frames where the recording deviates from the RFC and our frame
	// therefore differs: LooseContent compares the command letter only, LooseCommand
	// accepts any command.
	Loose map[int]Leeway
	// LooseLevel lets our SSID carry another level (a recorded peer that broke the
	// level negotiation, or a level proposal we spell differently).
	LooseLevel bool
	// Until stops the replay after this frame number (0: the whole capture).
	Until int
	// Timeout bounds each read (default 10 s).
	Timeout time.Duration
	// Compared counts our frames that matched.
	Compared int
}

// Leeway is how much a frame may differ from the recording.
type Leeway int

const (
	// Exact compares the frame as described at Replay.
	Exact Leeway = iota
	// LooseContent requires only the same command letter.
	LooseContent
	// LooseCommand accepts any command in place of the recorded one.
	LooseCommand
)

// Run replays on conn and closes it at the end, as the recorded peer did.
func (r *Replay) Run(conn net.Conn) error {
	defer conn.Close()
	p := NewPeer(conn)
	if r.Timeout > 0 {
		p.Timeout = r.Timeout
	}
	st := replayState{lvl: wire.Level20}
	for _, f := range r.Capture.Frames {
		if r.Until > 0 && f.N > r.Until {
			break
		}
		if f.Dir == r.Plays {
			st.observe(f.OEB())
			if err := p.WriteRaw(f.STB); err != nil {
				return fmt.Errorf("oftptest: sending frame #%d: %w", f.N, err)
			}
			continue
		}
		got, err := p.ReadOEB()
		if err != nil {
			return &Divergence{Frame: f, Reason: "no frame: " + err.Error()}
		}
		if reason := st.compare(f.OEB(), got, r.Loose[f.N], r.LooseLevel); reason != "" {
			return &Divergence{Frame: f, Got: got, Reason: reason}
		}
		st.observe(got)
		r.Compared++
	}
	return nil
}

// replayState follows the session settings the comparison depends on.
type replayState struct {
	lvl      wire.Level
	ssids    []wire.SSID
	compress bool
}

func (st *replayState) observe(oeb []byte) {
	if len(oeb) == 0 || oeb[0] != wire.CodeSSID {
		return
	}
	c, err := wire.Decode(oeb, wire.Level20)
	if err != nil {
		return
	}
	st.ssids = append(st.ssids, c.(wire.SSID))
	if len(st.ssids) == 2 {
		a, b := wire.NormalizeLevel(st.ssids[0].Level), wire.NormalizeLevel(st.ssids[1].Level)
		st.lvl = min(a, b)
		st.compress = st.ssids[0].Compression && st.ssids[1].Compression
	}
}

func (st *replayState) compare(want, got []byte, leeway Leeway, looseLevel bool) string {
	if bytes.Equal(want, got) || leeway == LooseCommand {
		return ""
	}
	if want[0] != got[0] {
		return fmt.Sprintf("command differs: want %s", wire.CommandName(want[0]))
	}
	if leeway == LooseContent {
		return ""
	}
	if want[0] == wire.CodeDATA {
		a, errA := records(want[1:], st.compress)
		b, errB := records(got[1:], st.compress)
		if errA != nil || errB != nil {
			return fmt.Sprintf("DATA does not decode: %v / %v", errA, errB)
		}
		if !reflect.DeepEqual(a, b) {
			return "DATA content or record ends differ"
		}
		return ""
	}
	w, err := wire.Decode(want, st.lvl)
	if err != nil {
		return "recorded frame does not decode: " + err.Error()
	}
	g, err := wire.Decode(got, st.lvl)
	if err != nil {
		return "our frame does not decode: " + err.Error()
	}
	switch wv := w.(type) {
	case wire.SSID:
		gv := g.(wire.SSID)
		if looseLevel {
			gv.Level = wv.Level
		}
		if !reflect.DeepEqual(wv, gv) {
			return fmt.Sprintf("SSID differs: want %+v, got %+v", redact(wv), redact(gv))
		}
		return ""
	case wire.SFID:
		gv := g.(wire.SFID)
		gv.Stamp = wv.Stamp
		return diff("SFID", wv, gv)
	case wire.EERP:
		gv := g.(wire.EERP)
		gv.Stamp = wv.Stamp
		return diff("EERP", wv, gv)
	case wire.NERP:
		gv := g.(wire.NERP)
		gv.Stamp = wv.Stamp
		gv.Text = wv.Text
		return diff("NERP", wv, gv)
	case wire.ESID:
		if gv := g.(wire.ESID); gv.Reason != wv.Reason {
			return fmt.Sprintf("ESID reason %02d, want %02d", gv.Reason, wv.Reason)
		}
		return ""
	case wire.SFNA:
		gv := g.(wire.SFNA)
		if gv.Reason != wv.Reason || gv.Retry != wv.Retry {
			return fmt.Sprintf("SFNA %02d/%v, want %02d/%v", gv.Reason, gv.Retry, wv.Reason, wv.Retry)
		}
		return ""
	case wire.EFNA:
		if gv := g.(wire.EFNA); gv.Reason != wv.Reason {
			return fmt.Sprintf("EFNA reason %02d, want %02d", gv.Reason, wv.Reason)
		}
		return ""
	}
	return diff(wire.CommandName(want[0]), w, g)
}

func redact(s wire.SSID) wire.SSID {
	if s.Password != "" {
		s.Password = "***"
	}
	return s
}

func diff(name string, want, got any) string {
	if reflect.DeepEqual(want, got) {
		return ""
	}
	return fmt.Sprintf("%s differs: want %+v, got %+v", name, want, got)
}

// Record is one record of a DATA stream; Ended is false for a record still open.
type Record struct {
	Data  []byte
	Ended bool
}

// records decodes a DATA payload into records (pieces of one record merged).
func records(payload []byte, compress bool) ([]Record, error) {
	var out []Record
	open := false
	err := wire.DecodeData(payload, compress, func(data []byte, eor bool) error {
		if !open {
			out = append(out, Record{})
			open = true
		}
		r := &out[len(out)-1]
		r.Data = append(r.Data, data...)
		if eor {
			r.Ended = true
			open = false
		}
		return nil
	})
	return out, err
}

// Transfer is a file transfer found in a capture, for sending the same file again.
type Transfer struct {
	From          Dir
	DatasetName   string
	Date, Time    string // the recorded stamp
	Originator    string
	Destination   string
	Format        byte
	MaxRecordSize int
	Records       []Record // what went over the wire, records merged across buffers
	RecordCount   int64    // EFIDRCNT
	UnitCount     int64    // EFIDUCNT
}

// Content returns the transmitted octets of all records, concatenated.
func (t *Transfer) Content() []byte {
	var b []byte
	for _, r := range t.Records {
		b = append(b, r.Data...)
	}
	return b
}

// Transfers lists the files sent in the capture, in order.
func (c *Capture) Transfers() ([]Transfer, error) {
	st := replayState{lvl: wire.Level20}
	var out []Transfer
	var cur *Transfer
	for _, f := range c.Frames {
		oeb := f.OEB()
		st.observe(oeb)
		switch oeb[0] {
		case wire.CodeSFID:
			cmd, err := wire.Decode(oeb, st.lvl)
			if err != nil {
				return nil, fmt.Errorf("frame #%d: %w", f.N, err)
			}
			s := cmd.(wire.SFID)
			out = append(out, Transfer{From: f.Dir, DatasetName: s.DatasetName, Date: s.Stamp.Date, Time: s.Stamp.Time,
				Originator: s.Originator, Destination: s.Destination, Format: byte(s.Format), MaxRecordSize: s.MaxRecordSize})
			cur = &out[len(out)-1]
		case wire.CodeDATA:
			if cur == nil {
				return nil, fmt.Errorf("frame #%d: DATA outside a file", f.N)
			}
			recs, err := records(oeb[1:], st.compress)
			if err != nil {
				return nil, fmt.Errorf("frame #%d: %w", f.N, err)
			}
			for _, r := range recs {
				n := len(cur.Records)
				if n > 0 && !cur.Records[n-1].Ended {
					cur.Records[n-1].Data = append(cur.Records[n-1].Data, r.Data...)
					cur.Records[n-1].Ended = r.Ended
					continue
				}
				cur.Records = append(cur.Records, r)
			}
		case wire.CodeEFID:
			if cur == nil {
				return nil, errors.New("EFID outside a file")
			}
			cmd, err := wire.Decode(oeb, st.lvl)
			if err != nil {
				return nil, fmt.Errorf("frame #%d: %w", f.N, err)
			}
			e := cmd.(wire.EFID)
			cur.RecordCount, cur.UnitCount = e.RecordCount, e.UnitCount
			cur = nil
		}
	}
	return out, nil
}
