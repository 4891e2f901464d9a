package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// load is the steady traffic during a run: publishers that publish fresh derivations one
// after the other (each `buildchaind publish` serves its blocks and waits for the verdict), and
// a bank sender. It records what it sent, so the checks can look for every committed tx.
type load struct {
	c *cluster
	// ctx ends every command of the load when the test ends (a failed test does not wait for
	// the publishes under way).
	ctx context.Context

	mu        sync.Mutex
	claims    []uint64 // every claim a publish reported as submitted
	committed []sentTx // txs seen in a block (bank sends and claim submissions)
	dropped   int      // bank sends accepted by CheckTx but never seen in a block
	rejected  int      // bank sends refused at CheckTx (e.g. by a node going down)
	publishes int
	failed    []string // publishes that ended without a verdict (their output's last lines)
}

type sentTx struct {
	hash   string
	height string
	code   uint32
}

var (
	claimSubmitted = regexp.MustCompile(`claim (\d+) submitted: .*\(tx ([0-9A-F]+)\)`)
	drvAdded       = regexp.MustCompile(`(?m)^(ba[a-z2-7]+)\s*$`)
)

// derivation writes a hello-like derivation whose build sleeps sleepSecs and whose output
// depends on salt (so every claim is about a new derivation), and adds it to home's store.
func (l *load) derivation(home, salt string, sleepSecs int) (string, error) {
	script := "set -e\nPATH=/ipfs/store/@bootstrap@/bin\n"
	if sleepSecs > 0 {
		script += fmt.Sprintf("sleep %d\n", sleepSecs)
	}
	script += "mkdir -p $out\necho " + salt + " > $out/salt\n"
	drv := map[string]any{
		"name": "chaos", "system": "@system@", "builder": "/ipfs/store/@bootstrap@/bin/sh",
		"args": []string{"-c", script}, "env": map[string]string{"SALT": salt},
		"inputs": []string{"@bootstrap@"}, "outputs": []string{"out"},
	}
	bz, _ := json.Marshal(drv)
	f := filepath.Join(home, salt+".json")
	if err := os.WriteFile(f, bz, 0o644); err != nil {
		return "", err
	}
	out, err := l.cli(home, "drv", "add", f)
	if err != nil {
		return "", err
	}
	m := drvAdded.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("drv add printed no CID: %s", out)
	}
	return m[1], nil
}

// cli runs buildchaind with the user store at home.
func (l *load) cli(home string, args ...string) (string, error) {
	cmd := exec.CommandContext(l.ctx, l.c.net.Binary, args...)
	cmd.Env = append(os.Environ(), "BUILDCHAIN_HOME="+home)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("buildchaind %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// publish publishes drv from key through node and returns the claim id (0 if none was
// submitted). claimOutput, when set, claims that output instead of the build's (a lie).
func (l *load) publish(home, key string, node int, drv, claimOutput string) (uint64, string, error) {
	args := []string{"publish", drv, "--from", key, "--home", l.c.net.Home(0),
		"--node", fmt.Sprintf("tcp://%s:%d", l.c.net.Host(node), l.c.net.PortBase+10*node+1),
		"--peer", strings.Join(l.c.builderPeer, ","), "--wait-timeout", "4m", "-y"}
	args = append(args, l.c.keyring()...)
	if claimOutput != "" {
		args = append(args, "--claim-output", claimOutput)
	}
	out, err := l.cli(home, args...)
	var id uint64
	if m := claimSubmitted.FindStringSubmatch(out); m != nil {
		fmt.Sscan(m[1], &id)
		l.mu.Lock()
		l.claims = append(l.claims, id)
		l.mu.Unlock()
		if h, ok := l.c.txHeight(m[2]); ok {
			l.mu.Lock()
			l.committed = append(l.committed, h)
			l.mu.Unlock()
		}
	}
	l.mu.Lock()
	l.publishes++
	l.mu.Unlock()
	return id, out, err
}

// publisher publishes fresh derivations from key through node until ctx ends.
func (l *load) publisher(ctx context.Context, name, key string, node int) {
	home := filepath.Join(l.c.dir, "pub-"+name)
	if _, err := l.cli(home, "bootstrap"); err != nil {
		l.c.t.Errorf("publisher %s: %v", name, err)
		return
	}
	for k := 0; ctx.Err() == nil; k++ {
		drv, err := l.derivation(home, fmt.Sprintf("%s-%d", name, k), 0)
		if err != nil {
			l.c.t.Errorf("publisher %s: %v", name, err)
			return
		}
		if _, out, err := l.publish(home, key, node, drv, ""); err != nil {
			l.mu.Lock()
			l.failed = append(l.failed, fmt.Sprintf("%s: %v", name, lastLines(out, 3)))
			l.mu.Unlock()
		}
	}
}

// sender sends 1ubct from key to to through node, one tx at a time, until ctx ends.
func (l *load) sender(ctx context.Context, key, to string, node int) {
	for ctx.Err() == nil {
		args := []string{"tx", "bank", "send", key, to, "1ubct", "--home", l.c.net.Home(0),
			"--node", fmt.Sprintf("tcp://%s:%d", l.c.net.Host(node), l.c.net.PortBase+10*node+1),
			"--chain-id", l.c.net.ChainID, "-y", "-o", "json"}
		args = append(args, l.c.keyring()...)
		out, err := exec.CommandContext(l.ctx, l.c.net.Binary, args...).Output()
		var res struct {
			TxHash string `json:"txhash"`
			Code   uint32 `json:"code"`
		}
		if err != nil || json.Unmarshal([]byte(lastLines(string(out), 1)), &res) != nil || res.Code != 0 {
			l.mu.Lock()
			l.rejected++
			l.mu.Unlock()
			time.Sleep(time.Second) // a node down or a sequence to catch up: try again shortly
			continue
		}
		if tx, ok := l.c.waitTx(res.TxHash, time.Minute); ok {
			l.mu.Lock()
			l.committed = append(l.committed, tx)
			l.mu.Unlock()
		} else {
			l.mu.Lock()
			l.dropped++
			l.mu.Unlock()
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
