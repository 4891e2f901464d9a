// Command e2e measures, on a real 4-authority localnet with 3 build
// validators (own store, FUSE view, sandbox, libp2p node and sidecar each),
// the submit -> verdict latency of publishing the hello example, in blocks
// and seconds, next to the time of a local build of hello (the baseline a
// user would otherwise pay), as a ratio. It then runs bench/p2p for the block
// exchange throughput between two local nodes as a ratio to a plain file
// copy of the same bytes (issue 7).
//
//	go run ./bench/e2e [-claims 3] [-p2p=false]
//
// Needs root, /dev/fuse and /bin/busybox (Debian busybox-static).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"testing"
	"time"

	cid "github.com/ipfs/go-cid"

	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/sandbox"
	"github.com/buildchain/buildchain/node/sidecar/sidecartest"
	"github.com/buildchain/buildchain/testutil/localnet"
	claimstypes "github.com/buildchain/buildchain/x/claims/types"
)

type sample struct {
	blocks   int64
	chainSec float64 // block time of the verdict minus that of the submission
	wallSec  float64 // submit call to VALID seen by polling
	rounds   uint32
}

func main() {
	sandbox.Init()
	testing.Init() // the harness logs through testing.B
	claims := flag.Int("claims", 3, "claims to publish (median reported)")
	withP2P := flag.Bool("p2p", true, "also run bench/p2p (block exchange vs file copy)")
	portBase := flag.Int("port-base", 0, "localnet port block (0: a free one)")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Println("bench/e2e: skipped (needs root for sandbox builds and FUSE)")
		return
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		fmt.Println("bench/e2e: skipped (needs /bin/busybox from Debian busybox-static)")
		return
	}
	var samples []sample
	var localBuild time.Duration
	var failure string
	// testing.Benchmark gives the localnet and harness helpers a testing.TB;
	// one iteration takes minutes, so it runs exactly once.
	res := testing.Benchmark(func(b *testing.B) {
		if samples != nil {
			return
		}
		samples = []sample{}
		net := localnet.Start(b, localnet.Options{Nodes: 4, PortBase: *portBase})
		env := sidecartest.NewEnv(b, net)
		pub := env.NewPeer("publisher", "val0", 0)
		for i, name := range []string{"alice", "bob", "carol"} {
			p := env.NewPeer(name, name, i+1, pub)
			env.Register(p)
			env.StartSidecar(p)
		}
		// Baseline: a local build of hello (not cached) on the publisher.
		base := pub.Hello(b, "baseline")
		r, err := pub.Builder.Build(context.Background(), base, builder.Options{})
		if err != nil {
			failure = err.Error()
			return
		}
		localBuild = r.BuildTime
		for i := 0; i < *claims; i++ {
			drv := pub.Hello(b, "bench-"+strconv.Itoa(i))
			id, _, _, submitted, h0 := pub.Publish(b, drv, cid.Undef)
			c := sidecartest.WaitClaim(b, pub.Claims, id, 5*time.Minute, "a verdict", func(c claimstypes.Claim) bool {
				return c.Status == claimstypes.CLAIM_STATUS_VALID || c.Status == claimstypes.CLAIM_STATUS_DISPUTED ||
					c.Status == claimstypes.CLAIM_STATUS_EXPIRED || c.Status == claimstypes.CLAIM_STATUS_REJECTED
			})
			wall := time.Since(submitted)
			if c.Status != claimstypes.CLAIM_STATUS_VALID {
				failure = fmt.Sprintf("claim %d ended %s", id, c.Status)
				return
			}
			t0, err0 := blockTime(pub, h0)
			t1, err1 := blockTime(pub, c.FinishedHeight)
			s := sample{blocks: c.FinishedHeight - h0, wallSec: wall.Seconds(), rounds: c.Round}
			if err0 == nil && err1 == nil {
				s.chainSec = t1.Sub(t0).Seconds()
			}
			samples = append(samples, s)
			fmt.Printf("claim %d: VALID after %d rounds, %d blocks, %.2f s between blocks, %.2f s wall\n",
				id, s.rounds, s.blocks, s.chainSec, s.wallSec)
		}
	})
	_ = res
	if failure != "" || len(samples) == 0 {
		fmt.Fprintln(os.Stderr, "bench/e2e failed:", failure)
		os.Exit(1)
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i].wallSec < samples[j].wallSec })
	m := samples[len(samples)/2]
	fmt.Printf("submit->verdict (hello, median of %d): %d blocks, %.2f s on chain, %.2f s wall, %d rounds\n",
		len(samples), m.blocks, m.chainSec, m.wallSec, m.rounds)
	fmt.Printf("baseline: local build of hello %d ms; verdict latency / local build = %.1fx\n",
		localBuild.Milliseconds(), m.wallSec/localBuild.Seconds())
	if *withP2P {
		fmt.Println("block exchange between two local nodes (bench/p2p):")
		cmd := exec.Command("go", "run", "./bench/p2p", "-size", "32", "-runs", "2", "-files", "500")
		cmd.Dir = localnet.RepoRoot()
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "bench/p2p:", err)
			os.Exit(1)
		}
	}
}

func blockTime(p *sidecartest.Peer, h int64) (time.Time, error) {
	res, err := p.Claims.C.Context().Client.Block(context.Background(), &h)
	if err != nil {
		return time.Time{}, err
	}
	return res.Block.Time, nil
}
