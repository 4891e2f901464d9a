package storefs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAutoPins: a user symlink into the store (./result) registered as an
// auto pin keeps its closure alive until the symlink goes away; then GC
// removes the dangling pin and sweeps the content.
func TestAutoPins(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	c, err := s.AddReader(ctx, strings.NewReader("result content\n"), 0, AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	result := filepath.Join(t.TempDir(), "result")
	if err := os.Symlink(filepath.Join(s.MountDir(), c.String()), result); err != nil {
		t.Fatal(err)
	}
	if err := s.AutoPin("alice", "build", result); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseTempPin(c); err != nil {
		t.Fatal(err)
	}
	pins, _ := s.ListPins()
	if len(pins) != 1 || pins[0].Kind != "auto" || pins[0].CID != c {
		t.Fatalf("pins: %+v", pins)
	}
	if res, err := s.GC(ctx); err != nil || res.Removed != 0 || res.Roots != 1 {
		t.Fatalf("gc with auto pin: %+v %v", res, err)
	}
	// The user path may point into a subdirectory (/ipfs/store/{cid}/bin).
	if err := os.Remove(result); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/ipfs/store/"+c.String()+"/bin", result); err != nil {
		t.Fatal(err)
	}
	if res, err := s.GC(ctx); err != nil || res.Removed != 0 {
		t.Fatalf("gc with auto pin to a sub path: %+v %v", res, err)
	}
	// Not a link into the store: refused.
	plain := filepath.Join(t.TempDir(), "plain")
	os.WriteFile(plain, nil, 0o644)
	if err := s.AutoPin("alice", "build", plain); err == nil {
		t.Fatal("auto pin of a plain file accepted")
	}
	// The user deletes ./result: the pin dangles and GC cleans up.
	if err := os.Remove(result); err != nil {
		t.Fatal(err)
	}
	res, err := s.GC(ctx)
	if err != nil || res.DanglingPins != 1 || res.Removed != 1 {
		t.Fatalf("gc after removing result: %+v %v", res, err)
	}
	if pins, _ := s.ListPins(); len(pins) != 0 {
		t.Fatalf("pins left: %+v", pins)
	}
}

func TestPlaceholder(t *testing.T) {
	a, b := Placeholder("x"), Placeholder("y")
	if len(a) != SelfRefLen || string(a) == string(b) || string(Placeholder("x")) != string(a) {
		t.Fatalf("placeholders %q %q", a, b)
	}
	if !strings.HasPrefix(string(a), "bafy") {
		t.Fatalf("placeholder %q does not look like a CID", a)
	}
}

// TestAddHoldingLock: an add inside WithAddLock with HoldingLock, pinned
// before the lock is released, while another goroutine waits in GC.
func TestAddHoldingLock(t *testing.T) {
	s := openTemp(t)
	ctx := context.Background()
	gcDone := make(chan error, 1)
	err := s.WithAddLock(func() error {
		go func() { _, err := s.GC(ctx); gcDone <- err }()
		c, err := s.AddReader(ctx, strings.NewReader("locked add\n"), 0, AddOptions{HoldingLock: true, NoTempPin: true})
		if err != nil {
			return err
		}
		return s.Pin("u", "p", c)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-gcDone; err != nil {
		t.Fatal(err)
	}
	pins, _ := s.ListPins()
	if len(pins) != 1 {
		t.Fatalf("pins: %+v", pins)
	}
	if _, err := s.GetBlock(pins[0].CID); err != nil {
		t.Fatalf("pinned block after GC: %v", err)
	}
}
