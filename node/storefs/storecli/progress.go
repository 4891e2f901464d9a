package storecli

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// progress draws "add" progress on stderr when it is a terminal.
type progress struct {
	w     io.Writer
	name  string
	total int64
	start time.Time
	mu    sync.Mutex
	last  time.Time
	cur   int64
}

// newProgress returns nil (no bar) when quiet or stderr is not a terminal.
func newProgress(w io.Writer, path string, quiet bool) *progress {
	f, ok := w.(*os.File)
	if quiet || !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	var total int64
	_ = filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	return &progress{w: w, name: filepath.Base(path), total: total, start: time.Now()}
}

func (p *progress) update(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cur = n
	if time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.draw()
}

func (p *progress) draw() {
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = min(float64(p.cur)/float64(p.total), 1)
	}
	fill := int(frac * width)
	rate := float64(p.cur) / max(time.Since(p.start).Seconds(), 1e-3)
	fmt.Fprintf(p.w, "\r%-20.20s [%s%s] %3.0f%% %s/%s %s/s ", p.name,
		strings.Repeat("=", fill), strings.Repeat(" ", width-fill), frac*100,
		human(float64(p.cur)), human(float64(p.total)), human(rate))
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cur = p.total
	p.draw()
	fmt.Fprintln(p.w)
}

func human(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %s", b, units[i])
}
