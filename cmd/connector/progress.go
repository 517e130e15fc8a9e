package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/oftp2/connector/core/oftp"
)

// isTerminal reports whether w is an interactive terminal, where a progress bar helps;
// elsewhere (logs, CI, pipes) plain log lines are easier to read and to grep.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progress reports transfers either as a redrawn bar (terminal) or as log lines.
type progress struct {
	mu     sync.Mutex
	out    io.Writer
	tty    bool
	log    *slog.Logger
	sizes  map[string]int64 // expected octets by dataset name, when known
	start  time.Time
	last   time.Time
	drawn  bool
	now    func() time.Time
	logGap time.Duration

	receiptErrs []error
}

func newProgress(out io.Writer, log *slog.Logger) *progress {
	return &progress{out: out, tty: isTerminal(out), log: log, sizes: map[string]int64{}, now: time.Now, logGap: 5 * time.Second}
}

func (p *progress) expect(dataset string, size int64) {
	p.mu.Lock()
	p.sizes[dataset] = size
	p.mu.Unlock()
}

func (p *progress) events(ev *oftp.Events) {
	ev.StartTransfer = p.startTransfer
	ev.Progress = p.progress
	ev.EndTransfer = p.endTransfer
	ev.EndResponse = p.endResponse
}

func (p *progress) startTransfer(info oftp.TransferInfo) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.start, p.last = p.now(), time.Time{}
}

func (p *progress) progress(info oftp.TransferInfo, octets int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.tty {
		if now.Sub(p.last) < 100*time.Millisecond {
			return
		}
		p.last = now
		p.draw(info, octets, now)
		return
	}
	if now.Sub(p.last) < p.logGap {
		return
	}
	p.last = now
	p.log.Info("transfer progress", "file", info.DatasetName, "octets", octets, "rate", rate(octets, now.Sub(p.start)))
}

func (p *progress) draw(info oftp.TransferInfo, octets int64, now time.Time) {
	const width = 30
	arrow := "<-"
	if info.Direction == oftp.Outgoing {
		arrow = "->"
	}
	line := fmt.Sprintf("%s %-26s %10s  %s", arrow, info.DatasetName, byteSize(octets), rate(octets, now.Sub(p.start)))
	if total := p.sizes[info.DatasetName]; total > 0 {
		done := min(width, int(octets*width/total))
		line = fmt.Sprintf("%s %-26s [%s%s] %3d%% %10s  %s", arrow, info.DatasetName,
			strings.Repeat("=", done), strings.Repeat(" ", width-done), octets*100/total, byteSize(octets), rate(octets, now.Sub(p.start)))
	}
	fmt.Fprintf(p.out, "\r%s", line)
	p.drawn = true
}

func (p *progress) endTransfer(res oftp.TransferResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.out, "\r\033[K")
		p.drawn = false
	}
	elapsed := p.now().Sub(p.start)
	if res.Err != nil {
		p.log.Error("transfer failed", "direction", res.Direction.String(), "file", res.DatasetName, "error", res.Err)
		return
	}
	p.log.Info("transfer complete", "direction", res.Direction.String(), "file", res.DatasetName,
		"octets", res.Octets, "records", res.Records, "elapsed", elapsed.Round(time.Millisecond).String(), "rate", rate(res.Octets, elapsed))
}

// endResponse reports end responses: those we send, and those we receive together with
// the outcome of their signature check (the session logs their arrival).
func (p *progress) endResponse(ev oftp.EndResponseEvent) {
	kind := "EERP"
	if ev.Negative() {
		kind = "NERP"
	}
	verb := " sent"
	if ev.Direction == oftp.Incoming {
		verb = " received"
	}
	attrs := []any{"file", ev.DatasetName, "from", ev.Originator, "to", ev.Destination, "signed", len(ev.Signature) > 0}
	if ev.Negative() {
		attrs = append(attrs, "reason", ev.Reason, "text", ev.Text)
	}
	switch {
	case ev.Err != nil:
		p.mu.Lock()
		p.receiptErrs = append(p.receiptErrs, fmt.Errorf("%s for %s: %w", kind, ev.DatasetName, ev.Err))
		p.mu.Unlock()
		p.log.Error(kind+verb+" but not verified", append(attrs, "error", ev.Err)...)
	case ev.Negative():
		p.log.Warn(kind+verb, attrs...)
	default:
		p.log.Info(kind+verb, attrs...)
	}
}

// receiptError returns the first end response that failed verification, if any: a
// forged or mismatched receipt must never pass as success.
func (p *progress) receiptError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.receiptErrs) == 0 {
		return nil
	}
	return p.receiptErrs[0]
}

func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func rate(n int64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return byteSize(int64(float64(n)/d.Seconds())) + "/s"
}
