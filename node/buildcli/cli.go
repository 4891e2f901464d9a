package buildcli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/spf13/cobra"

	"github.com/buildchain/buildchain/internal/atomicfile"
	"github.com/buildchain/buildchain/node/builder"
	"github.com/buildchain/buildchain/node/derivation"
	"github.com/buildchain/buildchain/node/profile"
	"github.com/buildchain/buildchain/node/progress"
	"github.com/buildchain/buildchain/node/runtime"
	"github.com/buildchain/buildchain/node/sandbox"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/storefs/fusefs"
	"github.com/buildchain/buildchain/node/toolchain"
)

// Commands returns the top-level commands drv, build, profile and bootstrap; `build`
// consults network first (nil: local builds only). `cargo build` is node/nodecli's.
func Commands(network *Network) []*cobra.Command {
	cmds := []*cobra.Command{drvCmd(), buildCmd(network), profileCmd(), bootstrapCmd()}
	for _, c := range cmds {
		c.PersistentFlags().String("store", "", "store root (default $BUILDCHAIN_HOME/ipfs, else ~/.buildchain/ipfs)")
		silenceUsage(c)
	}
	return cmds
}

// silenceUsage: a failed build is not a usage error; print the error, not the flags.
func silenceUsage(c *cobra.Command) {
	c.SilenceUsage = true
	for _, sub := range c.Commands() {
		silenceUsage(sub)
	}
}

type env struct {
	home  string
	rt    *runtime.Runtime
	store *storefs.Store
	b     *builder.Builder
}

func (e *env) Close() { e.rt.Close() }

// open opens the node runtime of a command: the store of --store (else $BUILDCHAIN_HOME/ipfs)
// and the builder with its state in $BUILDCHAIN_HOME/builds.
func open(cmd *cobra.Command, cfg builder.Config) (*env, error) {
	return openWith(cmd, cfg, nil)
}

// openWith is open with the network cache's parts (nil: none).
func openWith(cmd *cobra.Command, cfg builder.Config, net NetworkFunc) (*env, error) {
	h, err := runtime.DefaultHome()
	if err != nil {
		return nil, err
	}
	root, _ := cmd.Flags().GetString("store")
	if root == "" {
		root = filepath.Join(h, "ipfs")
	}
	cfg.StateDir = filepath.Join(h, "builds")
	if cfg.Log == nil {
		cfg.Log = cmd.ErrOrStderr()
	}
	rc := runtime.Config{StoreRoot: root, Builder: cfg, Progress: cmd.ErrOrStderr()}
	if net != nil {
		c, pc, err := net(cmd)
		if err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "no network cache (%v): building locally\n", err)
		} else {
			rc.Chain, rc.P2P = c, pc
			if d, _ := cmd.Flags().GetDuration("fetch-timeout"); d > 0 {
				rc.FetchTimeout = d
			}
		}
	}
	rt, err := runtime.Open(rc)
	if err != nil {
		return nil, err
	}
	return &env{home: h, rt: rt, store: rt.Store(), b: rt.Builder()}, nil
}

func drvCmd() *cobra.Command {
	c := &cobra.Command{Use: "drv", Short: "Add and show derivations"}
	add := &cobra.Command{
		Use:   "add FILE",
		Short: "Validate a derivation file (a template, see examples/README.md) and store it; prints its CID",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := open(cmd, builder.Config{})
			if err != nil {
				return err
			}
			defer e.Close()
			sets, _ := cmd.Flags().GetStringArray("set")
			c, err := addFile(e, args[0], sets)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), c)
			return nil
		},
	}
	add.Flags().StringArray("set", nil, "template variable name=value (repeatable); @bootstrap@, @system@ and @NAME@ of every imported toolchain are set automatically")
	show := &cobra.Command{
		Use:   "show CID",
		Short: "Print a stored derivation (canonical DAG-JSON; --pretty indents it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cid.Decode(args[0])
			if err != nil {
				return fmt.Errorf("derivation CID %q: %w", args[0], err)
			}
			e, err := open(cmd, builder.Config{})
			if err != nil {
				return err
			}
			defer e.Close()
			d, err := e.b.LoadDerivation(c)
			if err != nil {
				return err
			}
			data, err := d.Encode()
			if err != nil {
				return err
			}
			if pretty, _ := cmd.Flags().GetBool("pretty"); pretty {
				var buf bytes.Buffer
				if err := json.Indent(&buf, data, "", "  "); err != nil {
					return err
				}
				data = buf.Bytes()
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(data))
			return nil
		},
	}
	show.Flags().Bool("pretty", false, "indent the JSON")
	c.AddCommand(add, show)
	return c
}

func addFile(e *env, file string, sets []string) (cid.Cid, error) {
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return cid.Undef, err
	}
	vars, err := e.b.TemplateVars()
	if err != nil {
		return cid.Undef, err
	}
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return cid.Undef, fmt.Errorf("--set %q: want name=value", s)
		}
		vars[k] = v
	}
	filled, err := builder.Template(data, vars)
	if err != nil {
		return cid.Undef, fmt.Errorf("%s: %w", file, err)
	}
	d, err := derivation.Parse(filled)
	if err != nil {
		return cid.Undef, fmt.Errorf("%s: %w", file, err)
	}
	c, err := e.b.AddDerivation(d)
	if err != nil {
		return cid.Undef, err
	}
	// A derivation someone added stays until they unpin it (store pin rm): GC must not take
	// it from under a later build or claim.
	if err := e.store.Pin(storefs.CurrentUser(), "derivations", c); err != nil {
		return cid.Undef, fmt.Errorf("pin derivation %s: %w", c, err)
	}
	return c, nil
}

func buildCmd(network *Network) *cobra.Command {
	c := &cobra.Command{
		Use:   "build DRV",
		Short: "Build a derivation (CID, or a derivation file which is added first); prints the output CID and build time",
		Long: "Builds the derivations its inputs name first, then the derivation itself in the sandbox. " +
			"Progress and the build log go to stderr (and to $BUILDCHAIN_HOME/builds/logs). A cached output is reused at once.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			timeout, _ := f.GetDuration("timeout")
			mem, _ := f.GetInt64("memory")
			pids, _ := f.GetInt64("pids")
			cpu, _ := f.GetInt64("cpu-millis")
			check, _ := f.GetBool("check")
			keep, _ := f.GetBool("keep-failed")
			quiet, _ := f.GetBool("quiet")
			noSub, _ := f.GetBool("no-substitute")
			substitute := network.enabled() && !noSub && !check
			e, err := openWith(cmd, builder.Config{Timeout: timeout, Limits: sandbox.Limits{MemoryBytes: mem, Pids: pids, CPUMillis: cpu}}, network.open(substitute))
			if err != nil {
				return err
			}
			defer e.Close()
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			drv, err := cid.Decode(args[0])
			if err != nil {
				if _, serr := os.Stat(args[0]); serr != nil {
					return fmt.Errorf("%q is neither a derivation CID nor a file", args[0])
				}
				if drv, err = addFile(e, args[0], nil); err != nil {
					return err
				}
			} else if substitute {
				// A derivation the local store lacks is fetched from peers first (a fresh
				// node asks for it by CID alone).
				if err := fetchDerivation(cmd, e, drv); err != nil {
					return err
				}
			}
			res, err := e.rt.Build(ctx, drv, builder.Options{Check: check, KeepFailed: keep}, substitute)
			substituted := res != nil && res.Substituted
			if err != nil {
				return err // for --check, the error names both outputs
			}
			if link, _ := f.GetString("out-link"); link != "" {
				if err := outLink(e, link, res.Output); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			fmt.Fprintln(out, res.Output)
			if !quiet {
				switch {
				case substituted:
					fmt.Fprintln(out, "substituted from the network: output verified on chain, not built here")
				case res.Cached:
					fmt.Fprintln(out, "build time: 0 ms (cached)")
				case check:
					fmt.Fprintf(out, "build time: %d ms (checked: rebuilt to the same output)\n", res.BuildTime.Milliseconds())
				default:
					fmt.Fprintf(out, "build time: %d ms\n", res.BuildTime.Milliseconds())
				}
			}
			return nil
		},
	}
	f := c.Flags()
	f.Bool("check", false, "rebuild even if cached and fail if the output differs (non-determinism)")
	f.Bool("keep-failed", false, "keep the build directory of a failed build for inspection")
	f.BoolP("quiet", "q", false, "print only the output CID")
	f.StringP("out-link", "o", "", "make this path a symlink to the output in the store and a GC root (like Nix's ./result)")
	f.Duration("timeout", builder.DefaultTimeout, "wall-clock limit per build (0: none)")
	f.Int64("memory", 0, "memory limit per build in bytes (0: none)")
	f.Int64("pids", 4096, "task limit per build (0: none)")
	f.Int64("cpu-millis", 0, "CPU limit per build in thousandths of a core (0: none)")
	network.addFlags(c, "never take a verified output from the network; build locally")
	return c
}

func bootstrapCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "bootstrap [--toolchain NAME]",
		Short: "Import the bootstrap tools (a static busybox) or, with --toolchain, a toolchain into the store; prints its CID",
		Long: "Without --toolchain: imports a static busybox (Debian busybox-static), @bootstrap@ in derivation templates.\n" +
			"With --toolchain NAME: imports that toolchain (the same CID on any machine), @NAME@ in templates.\n" +
			toolchainHelp(),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := open(cmd, builder.Config{})
			if err != nil {
				return err
			}
			defer e.Close()
			f := cmd.Flags()
			var c cid.Cid
			if name, _ := f.GetString("toolchain"); name != "" {
				src, _ := f.GetString("source")
				optList, _ := f.GetStringArray("option")
				opts := map[string]string{}
				for _, o := range optList {
					k, v, ok := strings.Cut(o, "=")
					if !ok || k == "" {
						return fmt.Errorf("--option %q: want key=value", o)
					}
					opts[k] = v
				}
				c, err = toolchain.Import(cmd.Context(), name, storefs.CurrentUser(), &toolchain.Env{
					Store: e.store, Builder: e.b, Source: src, Options: opts, Log: cmd.ErrOrStderr()})
			} else {
				bb, _ := f.GetString("busybox")
				c, err = e.b.ImportBusybox(cmd.Context(), bb, storefs.CurrentUser())
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), c)
			return nil
		},
	}
	c.Flags().String("busybox", builder.DefaultBusybox, "static busybox binary to import")
	c.Flags().String("toolchain", "", "import this toolchain instead ("+strings.Join(toolchain.Names(), ", ")+")")
	c.Flags().String("source", "", "with --toolchain: read it from this file or directory instead of its default source")
	c.Flags().StringArray("option", nil, "with --toolchain: importer option key=value (repeatable)")
	return c
}

// toolchainHelp lists the registered toolchains and their options.
func toolchainHelp() string {
	var b strings.Builder
	for _, n := range toolchain.Names() {
		t, _ := toolchain.Lookup(n)
		fmt.Fprintf(&b, "\n  %s: %s\n", n, t.Short)
		keys := make([]string, 0, len(t.Options))
		for k := range t.Options {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "    --option %s=...: %s\n", k, t.Options[k])
		}
	}
	return b.String()
}

// withProfile makes the RunE of a profile command: it opens the store and the profile of
// --user (default: the current user), runs run, and closes them.
func withProfile(run func(cmd *cobra.Command, p *profile.Profile, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		e, err := open(cmd, builder.Config{})
		if err != nil {
			return err
		}
		defer e.Close()
		u, _ := cmd.Flags().GetString("user")
		if u == "" {
			u = storefs.CurrentUser()
		}
		p, err := profile.Open(e.store, filepath.Join(e.home, "profiles"), u, fusefs.ViewDir(e.store))
		if err != nil {
			return err
		}
		return run(cmd, p, args)
	}
}

func profileCmd() *cobra.Command {
	c := &cobra.Command{Use: "profile", Short: "Manage the user profile: generations of installed outputs"}
	c.PersistentFlags().String("user", "", "profile owner (default: the current user)")
	install := &cobra.Command{
		Use:   "install OUTPUT-CID...",
		Short: "Create a new generation with these outputs added, switch to it and link ~/.buildchain-profile",
		Args:  cobra.MinimumNArgs(1),
		RunE: withProfile(func(cmd *cobra.Command, p *profile.Profile, args []string) error {
			var outs []cid.Cid
			for _, a := range args {
				c, err := cid.Decode(strings.TrimPrefix(a, derivation.StorePrefix))
				if err != nil {
					return fmt.Errorf("output %q: %w", a, err)
				}
				outs = append(outs, c)
			}
			id, err := p.Install(cmd.Context(), outs...)
			if err != nil {
				return err
			}
			if _, err := p.LinkUserHome(); err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "generation %d\n", id)
			return nil
		}),
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List generations (* marks the current one)",
		Args:  cobra.NoArgs,
		RunE: withProfile(func(cmd *cobra.Command, p *profile.Profile, args []string) error {
			gens, err := p.List()
			if err != nil {
				return err
			}
			for _, g := range gens {
				mark := " "
				if g.Current {
					mark = "*"
				}
				outs := make([]string, len(g.Outputs))
				for i, o := range g.Outputs {
					outs[i] = o.String()
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %4d  %s  %s\n", mark, g.ID, g.Created.Format(time.RFC3339), strings.Join(outs, " "))
			}
			return nil
		}),
	}
	genArg := func(a string) (int, error) {
		id, err := strconv.Atoi(a)
		if err != nil || id <= 0 {
			return 0, fmt.Errorf("generation %q: want a positive number", a)
		}
		return id, nil
	}
	switchCmd := &cobra.Command{
		Use:   "switch GENERATION",
		Short: "Make a generation current",
		Args:  cobra.ExactArgs(1),
		RunE: withProfile(func(cmd *cobra.Command, p *profile.Profile, args []string) error {
			id, err := genArg(args[0])
			if err != nil {
				return err
			}
			if err := p.Switch(id); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "generation %d\n", id)
			return nil
		}),
	}
	rollback := &cobra.Command{
		Use:   "rollback",
		Short: "Switch to the generation before the current one",
		Args:  cobra.NoArgs,
		RunE: withProfile(func(cmd *cobra.Command, p *profile.Profile, args []string) error {
			id, err := p.Rollback()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "generation %d\n", id)
			return nil
		}),
	}
	del := &cobra.Command{
		Use:   "delete GENERATION...",
		Short: "Delete generations (not the current one) and their GC roots",
		Args:  cobra.MinimumNArgs(1),
		RunE: withProfile(func(cmd *cobra.Command, p *profile.Profile, args []string) error {
			for _, a := range args {
				id, err := genArg(a)
				if err != nil {
					return err
				}
				if err := p.Delete(id); err != nil {
					return err
				}
			}
			return nil
		}),
	}
	c.AddCommand(install, list, switchCmd, rollback, del)
	return c
}

// outLink points link at the output's store path and registers it as an auto GC root: the
// output lives as long as the link points at it.
func outLink(e *env, link string, out cid.Cid) error {
	abs, err := filepath.Abs(link)
	if err != nil {
		return err
	}
	if fi, err := os.Lstat(abs); err == nil && fi.Mode()&os.ModeSymlink == 0 {
		return fmt.Errorf("--out-link %s exists and is not a symlink", link)
	}
	if err := atomicfile.Symlink(filepath.Join(e.store.MountDir(), out.String()), abs); err != nil {
		return err
	}
	if err := e.store.AutoPin(storefs.CurrentUser(), "build", abs); err != nil {
		return fmt.Errorf("register %s as a GC root: %w", link, err)
	}
	return nil
}

// fetchDerivation brings drv (and what a build of it needs) from peers if the local store
// lacks it, and pins it as `drv add` does; the fetch holds it against a concurrent GC
// until the pin is made.
func fetchDerivation(cmd *cobra.Command, e *env, drv cid.Cid) error {
	if _, err := e.b.LoadDerivation(drv); !errors.Is(err, builder.ErrMissingDerivation) || e.rt.Chain() == nil {
		return nil // local, or no network cache: the build names what is missing
	}
	ctx := cmd.Context()
	if d, _ := cmd.Flags().GetDuration("fetch-timeout"); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "fetching derivation %s from peers\n", drv)
	bar := progress.New(cmd.ErrOrStderr(), "fetching "+progress.Abbrev(drv.String()), 0, progress.Options{Label: "blocks"})
	_, release, err := e.rt.Fetch(ctx, drv, bar.Func())
	if err != nil {
		bar.Stop()
		return fmt.Errorf("derivation %s is not in the local store and could not be fetched from peers: %w", drv, err)
	}
	defer release()
	bar.Finish()
	return e.store.Pin(storefs.CurrentUser(), "derivations", drv)
}
