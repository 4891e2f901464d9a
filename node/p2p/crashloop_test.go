package p2p

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	cid "github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/stretchr/testify/require"

	"github.com/buildchain/buildchain/node/sandbox"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/testutil/crashloop"
)

// fetchCrashEnv makes the re-executed test binary the fetching child (fetchCrashChild).
const fetchCrashEnv = "P2P_FETCH_CRASHLOOP_CHILD"

func TestMain(m *testing.M) {
	sandbox.Init() // the toolchain test imports gcc, which builds in the sandbox
	if fetchCrashChild() {
		return
	}
	os.Exit(m.Run())
}

// fetchJob is what the parent hands the child: its store, the peer to fetch from, the root.
type fetchJob struct {
	Store string
	Peer  peer.AddrInfo
	Root  string
}

// fetchCrashChild opens a real store, connects to the parent's node and fetches a closure into
// the store, printing FETCHING before and DONE after, then waits to be killed.
func fetchCrashChild() bool {
	arg := crashloop.Child(fetchCrashEnv)
	if arg == "" {
		return false
	}
	say := crashloop.Say
	die := func(err error) { crashloop.Die("%v", err) }
	var job fetchJob
	if err := json.Unmarshal([]byte(arg), &job); err != nil {
		die(err)
	}
	s, err := storefs.Open(job.Store)
	if err != nil {
		die(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	n, err := New(ctx, Config{
		KeyFile: filepath.Join(job.Store, "..", "p2p.key"), ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"},
		Blockstore: s.Blockstore(), ReprovideInterval: -1, ReannounceInterval: -1,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		die(err)
	}
	if err := n.Connect(ctx, job.Peer); err != nil {
		die(err)
	}
	say("FETCHING")
	if _, err := n.FetchClosure(ctx, cid.MustParse(job.Root), nil); err != nil {
		die(err)
	}
	say("DONE")
	<-ctx.Done()
	return true
}

// TestFetchCrashLoop kills (SIGKILL) a process fetching a 16 MiB file from a peer into a real
// store at random points of the fetch, CRASHLOOP_KILLS times (default 3; `make crashloop` runs
// 50). After each kill the store opens, every block in it verifies and a root pinned before
// is still pinned with its closure; a last fetch completes and the file reads back equal (issue
// 13: a fetch interrupted by a crash leaves nothing half-written).
func TestFetchCrashLoop(t *testing.T) {
	kills := crashloop.Kills(t, 3)
	ctx := t.Context()
	src, ss := newStorefsNode(t)
	data := randomBytes(50, 16<<20)
	root, err := ss.AddReader(ctx, bytes.NewReader(data), 0, storefs.AddOptions{})
	require.NoError(t, err)

	storeDir := filepath.Join(t.TempDir(), "ipfs")
	s, err := storefs.Open(storeDir)
	require.NoError(t, err)
	kept, err := s.AddReader(ctx, bytes.NewReader(randomBytes(51, 1<<20)), 0, storefs.AddOptions{})
	require.NoError(t, err)
	require.NoError(t, s.Pin("crash", "kept", kept))
	require.NoError(t, s.Close())

	job, err := json.Marshal(fetchJob{Store: storeDir, Peer: src.AddrInfo(), Root: root.String()})
	require.NoError(t, err)
	rng := crashloop.Rand()
	run := func(k int, kill bool) string {
		child := crashloop.Start(t, fetchCrashEnv, string(job))
		require.Equal(t, "FETCHING", child.Next(), "run %d", k)
		if !kill {
			return child.Next()
		}
		// A random point of the fetch: the random wait is the perturbation itself.
		time.Sleep(time.Duration(rng.IntN(800)) * time.Millisecond)
		for _, l := range child.Kill() {
			if l == "DONE" {
				return l
			}
		}
		return "killed"
	}
	check := func(k int, what string) {
		s, err := storefs.Open(storeDir)
		require.NoError(t, err, "kill %d (%s): open", k, what)
		defer s.Close()
		bad, n, err := s.Verify(ctx)
		require.NoError(t, err)
		require.Empty(t, bad, "kill %d (%s): %d blocks verified", k, what, n)
		pins, err := s.ListPins()
		require.NoError(t, err)
		found := false
		for _, p := range pins {
			found = found || p.CID.Equals(kept)
		}
		require.True(t, found, "kill %d (%s): the pinned root lost its pin", k, what)
		_, err = s.Closure(kept)
		require.NoError(t, err, "kill %d (%s): the pinned root's closure", k, what)
	}
	killed := 0
	for k := 0; k < kills; k++ {
		what := run(k, true)
		if what == "killed" {
			killed++
		}
		check(k, what)
		if what == "DONE" {
			// The whole file arrived before the kill: start the next fetch from nothing.
			s, err := storefs.Open(storeDir)
			require.NoError(t, err)
			_, err = s.GC(ctx)
			require.NoError(t, err)
			require.NoError(t, s.Close())
		}
	}
	require.Equal(t, "DONE", run(kills, false))
	check(kills, "after the last fetch")
	s, err = storefs.Open(storeDir)
	require.NoError(t, err)
	defer s.Close()
	var got bytes.Buffer
	require.NoError(t, s.Cat(ctx, root, "", &got))
	require.Equal(t, data, got.Bytes())
	t.Logf("%d kills (%d during the fetch), store intact after each", kills, killed)
}
