package storecli

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	// Not a terminal: no bar at all, so -q and pipes stay clean.
	if p := newProgress(&buf, ".", false); p != nil {
		t.Fatal("progress bar on a non-terminal writer")
	}
	p := &progress{w: &buf, name: "tree", total: 4 << 20, start: time.Now().Add(-time.Second)}
	p.update(1 << 20)
	if got := buf.String(); !strings.Contains(got, "\rtree") || !strings.Contains(got, " 25%") || !strings.Contains(got, "1.0 MiB/4.0 MiB") {
		t.Fatalf("bar: %q", got)
	}
	buf.Reset()
	p.update(2 << 20) // within 100 ms of the last draw: throttled
	if buf.Len() != 0 {
		t.Fatalf("redrawn too soon: %q", buf.String())
	}
	p.done()
	if got := buf.String(); !strings.Contains(got, "100%") || !strings.HasSuffix(got, "\n") {
		t.Fatalf("final bar: %q", got)
	}
}
