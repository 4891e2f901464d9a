package storefs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/buildchain/buildchain/node/storefs/corpus"
	"github.com/buildchain/buildchain/testutil/crashloop"
)

const crashEnv = "STOREFS_CRASH_CHILD"

// childMain runs the crash-test child when the test binary is re-executed
// with STOREFS_CRASH_CHILD=storeRoot: it adds a file, and once the batch is
// written and fsynced but before any rename it reports the temp file and
// waits to be killed. It returns false in the normal test process.
func childMain() bool {
	root := crashloop.Child(crashEnv)
	if root == "" {
		return false
	}
	s, err := Open(root)
	if err != nil {
		crashloop.Die("open %v", err)
	}
	testHookBeforeRename = func(tmp string) {
		crashloop.Say("TMP %s", tmp)
		select {} // killed here by the parent
	}
	_, err = s.AddReader(context.Background(), bytes.NewReader(crashData()), 0, AddOptions{})
	crashloop.Die("returned %v", err)
	return true
}

func crashData() []byte { return corpus.Stream("crash", 5*262144+99) }

// TestCrashBetweenWriteAndRename kills a child process after it wrote and
// fsynced a batch of blocks but before it renamed them: no block of that
// add may be visible, no visible block may be damaged, the next Open clears
// the temp files, and adding again works.
func TestCrashBetweenWriteAndRename(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	// Some earlier content that must survive untouched.
	before, err := s.AddReader(context.Background(), strings.NewReader("earlier content\n"), 0, AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	child := crashloop.Start(t, crashEnv, root)
	tmp, ok := strings.CutPrefix(child.Next(), "TMP ")
	if !ok {
		t.Fatalf("child did not reach the rename: %q", child.Last())
	}
	child.Kill()
	if _, err := os.Stat(tmp); err != nil {
		t.Fatalf("temp block of the killed child should be on disk: %v", err)
	}

	s, err = Open(root) // removes temp files of dead processes
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatalf("temp file survived reopen: %v", err)
	}
	all, err := s.AllBlocks()
	if err != nil {
		t.Fatal(err)
	}
	// Only the earlier content is visible, and it verifies.
	if len(all) != 1 || all[0] != before {
		t.Fatalf("visible blocks after crash: %v", all)
	}
	if _, err := s.GetBlock(before); err != nil {
		t.Fatal(err)
	}
	// The same add now completes and reads back.
	c, err := s.AddReader(context.Background(), bytes.NewReader(crashData()), 0, AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.Cat(context.Background(), c, "", &buf); err != nil || !bytes.Equal(buf.Bytes(), crashData()) {
		t.Fatalf("re-add after crash: %v", err)
	}
	ents, _ := os.ReadDir(filepath.Join(root, "tmp"))
	if len(ents) != 0 {
		t.Fatalf("tmp not empty after a clean add: %d files", len(ents))
	}
}
