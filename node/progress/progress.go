package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Unit says what a Bar counts.
type Unit int

const (
	// Count counts items (blocks, files), named by Options.Label.
	Count Unit = iota
	// Bytes counts bytes, shown in IEC units (KiB, MiB).
	Bytes
)

// DefaultInterval is the least time between two plain lines.
const DefaultInterval = time.Second

// Options configure a Bar. Zero values take the defaults.
type Options struct {
	Unit Unit
	// Label names a Count's items, e.g. "blocks" (default "items").
	Label string
	// Interval is the least time between two plain lines (default DefaultInterval); a
	// negative Interval prints a line at every change.
	Interval time.Duration
	// Terminal forces the terminal display (true) or plain lines (false); nil detects it
	// from the writer (an *os.File that is a terminal).
	Terminal *bool
}

// Bar is the display of one operation. Its methods are safe for concurrent use.
type Bar struct {
	mu       sync.Mutex
	w        io.Writer
	desc     string
	opts     Options
	tty      bool
	bar      *progressbar.ProgressBar // the terminal display, nil on plain lines
	done     int64
	total    int64 // <= 0: not known (yet)
	last     time.Time
	lastLine string
	ended    bool
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// New starts the display of an operation described by desc (e.g. "fetching bafy…") whose
// size is total (<= 0 when not known yet; Update can give it later). A nil w gives a nil Bar.
func New(w io.Writer, desc string, total int64, opts Options) *Bar {
	if w == nil {
		return nil
	}
	if opts.Label == "" {
		opts.Label = "items"
	}
	if opts.Interval == 0 {
		opts.Interval = DefaultInterval
	}
	tty := IsTerminal(w)
	if opts.Terminal != nil {
		tty = *opts.Terminal
	}
	b := &Bar{w: w, desc: desc, opts: opts, tty: tty, total: total}
	if tty {
		b.bar = b.newTerminalBar()
	}
	return b
}

func (b *Bar) newTerminalBar() *progressbar.ProgressBar {
	max := b.total
	if max <= 0 {
		max = -1 // a spinner until the size is known
	}
	options := []progressbar.Option{
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription(b.desc),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(b.w) }),
		// No timer goroutine redrawing a spinner: it would outlive Stop (Exit does not end
		// it); the display moves when progress is reported.
		progressbar.OptionSetSpinnerChangeInterval(0),
	}
	if b.opts.Unit == Bytes {
		options = append(options, progressbar.OptionShowBytes(true), progressbar.OptionUseIECUnits(true))
	} else {
		options = append(options, progressbar.OptionShowCount(), progressbar.OptionSetItsString(b.opts.Label))
	}
	return progressbar.NewOptions64(max, options...)
}

// Set reports that done units of the operation are complete.
func (b *Bar) Set(done int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.update(done, b.total)
}

// Update reports done units out of total (the total may grow as the operation discovers
// its work, as a fetch does walking a DAG).
func (b *Bar) Update(done, total int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.update(done, total)
}

// Func adapts the Bar to progress callbacks of the form func(done, total int) (p2p fetches).
// A nil Bar gives a nil func, which such callers take as "no progress".
func (b *Bar) Func() func(done, total int) {
	if b == nil {
		return nil
	}
	return func(done, total int) { b.Update(int64(done), int64(total)) }
}

// Finish marks the operation complete: the display shows it done and ends its line.
func (b *Bar) Finish() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return
	}
	if b.total > 0 {
		b.done = b.total
	} else {
		b.total = b.done
	}
	b.end(true)
}

// Stop ends the display where it is (the operation failed or was cancelled).
func (b *Bar) Stop() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.ended {
		b.end(false)
	}
}

func (b *Bar) update(done, total int64) {
	if b.ended {
		return
	}
	if total > 0 && done > total {
		total = done
	}
	b.done, b.total = done, total
	if !b.tty {
		complete := b.total > 0 && b.done == b.total
		if complete || b.opts.Interval < 0 || b.last.IsZero() || time.Since(b.last) >= b.opts.Interval {
			b.printLine()
		}
		return
	}
	// Redraw at most every redrawEvery (the library's own throttle would drop the last
	// state before a Stop), and always on completion.
	if b.total > 0 && b.done == b.total || time.Since(b.last) >= redrawEvery {
		b.draw()
	}
}

// redrawEvery is the least time between two terminal redraws.
const redrawEvery = 100 * time.Millisecond

// draw hands the state to the terminal display.
func (b *Bar) draw() {
	if b.bar.IsFinished() {
		if b.done >= b.total {
			return // already shown complete
		}
		// The total grew after the display had reached it: start a new one.
		b.bar = b.newTerminalBar()
	}
	if b.total > 0 && b.bar.GetMax64() != b.total {
		b.bar.ChangeMax64(b.total)
	}
	_ = b.bar.Set64(b.done)
	b.last = time.Now()
}

func (b *Bar) end(success bool) {
	b.ended = true
	if !b.tty {
		b.printLine()
		return
	}
	b.draw() // the latest state; reaching the total ends the line (OptionOnCompletion)
	if b.bar.IsFinished() {
		return
	}
	if success && b.total > 0 {
		_ = b.bar.Finish()
		return
	}
	_ = b.bar.Exit() // keeps the bar as it is; OptionOnCompletion ends the line
}

// printLine prints the state as a plain line, unless it is the line printed last.
func (b *Bar) printLine() {
	line := b.plain()
	if line == b.lastLine {
		return
	}
	fmt.Fprintln(b.w, line)
	b.lastLine, b.last = line, time.Now()
}

// plain is the state as one line of text, e.g. "fetching x: 3/10 blocks (30%)".
func (b *Bar) plain() string {
	if b.total <= 0 {
		return fmt.Sprintf("%s: %s", b.desc, b.amount(b.done))
	}
	pct := b.done * 100 / b.total
	if b.opts.Unit == Bytes {
		return fmt.Sprintf("%s: %s/%s (%d%%)", b.desc, HumanBytes(b.done), HumanBytes(b.total), pct)
	}
	return fmt.Sprintf("%s: %d/%d %s (%d%%)", b.desc, b.done, b.total, b.opts.Label, pct)
}

func (b *Bar) amount(n int64) string {
	if b.opts.Unit == Bytes {
		return HumanBytes(n)
	}
	return fmt.Sprintf("%d %s", n, b.opts.Label)
}

// HumanBytes formats n bytes in IEC units: "512 B", "1.5 MiB".
func HumanBytes(n int64) string {
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

// Abbrev shortens a long name (a CID) for a description: its first and last 8 characters.
func Abbrev(s string) string {
	if len(s) <= 20 {
		return s
	}
	return s[:8] + "…" + s[len(s)-8:]
}
