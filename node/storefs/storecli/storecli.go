package storecli

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"text/tabwriter"

	"github.com/buildchain/buildchain/internal/atomicfile"
	"github.com/buildchain/buildchain/node/progress"
	"github.com/buildchain/buildchain/node/storefs"
	"github.com/buildchain/buildchain/node/storefs/fusefs"
	"github.com/ipfs/go-cid"
	"github.com/spf13/cobra"
)

const flagStore = "store"

// NewCmd returns the `store` command.
func NewCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Local content-addressed store (IPFS blocks, kubo-identical CIDs)",
		Long: `Work with the local content-addressed store: UnixFS v1, CIDv1, raw leaves,
256 KiB chunks, so a path gets the same CID as
  ipfs add -r --cid-version=1 --raw-leaves --chunker=size-262144
Store root: --store, else $BUILDCHAIN_HOME/ipfs, else ~/.buildchain/ipfs.`,
		SilenceUsage: true,
	}
	cmd.PersistentFlags().String(flagStore, "", "store root (default $BUILDCHAIN_HOME/ipfs or ~/.buildchain/ipfs)")
	pin := &cobra.Command{Use: "pin", Short: "Manage GC roots"}
	pin.AddCommand(pinAddCmd(), pinRmCmd(), pinLsCmd())
	cmd.AddCommand(addCmd(), catCmd(), lsCmd(), getCmd(), pin, gcCmd(), verifyCmd(),
		mountCmd(), exportCmd(), importCmd(), statCmd())
	// cobra prints usage on an error unless the failing command (or the
	// binary's root) silences it: a bad CID is not a usage problem.
	var silence func(c *cobra.Command)
	silence = func(c *cobra.Command) {
		c.SilenceUsage = true
		for _, sub := range c.Commands() {
			silence(sub)
		}
	}
	silence(cmd)
	return cmd
}

// StoreRoot resolves the store root: flag, $BUILDCHAIN_HOME/ipfs, ~/.buildchain/ipfs.
func StoreRoot(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if h := os.Getenv("BUILDCHAIN_HOME"); h != "" {
		return filepath.Join(h, "ipfs"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find store root: set --store or BUILDCHAIN_HOME: %w", err)
	}
	return filepath.Join(home, ".buildchain", "ipfs"), nil
}

func openStore(cmd *cobra.Command) (*storefs.Store, error) {
	flag, _ := cmd.Flags().GetString(flagStore)
	root, err := StoreRoot(flag)
	if err != nil {
		return nil, err
	}
	return storefs.Open(root)
}

// withStore makes the RunE of a command that works on the store: it opens
// the store (--store), runs run, and closes the store.
func withStore(run func(cmd *cobra.Command, s *storefs.Store, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		s, err := openStore(cmd)
		if err != nil {
			return err
		}
		defer s.Close()
		return run(cmd, s, args)
	}
}

// withPath is withStore for a command whose first argument is CID[/PATH]:
// the argument is parsed before the store is opened, so a malformed one
// touches nothing.
func withPath(run func(cmd *cobra.Command, s *storefs.Store, c cid.Cid, p string, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, p, err := parseArg(args[0])
		if err != nil {
			return err
		}
		return withStore(func(cmd *cobra.Command, s *storefs.Store, args []string) error {
			return run(cmd, s, c, p, args)
		})(cmd, args)
	}
}

func addCmd() *cobra.Command {
	var quiet, preserve, noPin, onlyHash bool
	var selfRef, pinUser, pinProg string
	cmd := &cobra.Command{
		Use:   "add PATH...",
		Short: "Add files or directory trees; print their root CIDs",
		Long: `Add files, directory trees and symlinks. Prints "added CID PATH" per path, or only
the CID with -q. Progress goes to stderr (a bar on a terminal, plain lines otherwise;
none with -q). The root is
pinned for --user/--prog (default: you / store-add) unless --no-pin.`,
		Args: cobra.MinimumNArgs(1),
		RunE: withStore(func(cmd *cobra.Command, s *storefs.Store, args []string) error {
			ctx := cmd.Context()
			opts := storefs.AddOptions{PreserveMode: preserve, OnlyHash: onlyHash}
			if selfRef != "" {
				opts.SelfRef = []byte(selfRef)
			}
			if pinUser == "" {
				pinUser = storefs.CurrentUser()
			}
			for _, p := range args {
				if _, err := os.Lstat(p); err != nil {
					return fmt.Errorf("add %q: %w", p, err)
				}
			}
			for _, p := range args {
				var bar *progress.Bar
				if !quiet {
					bar = progress.New(cmd.ErrOrStderr(), "adding "+filepath.Base(p), treeSize(p), progress.Options{Unit: progress.Bytes})
					opts.Progress = bar.Set
				}
				c, err := s.AddPath(ctx, p, opts)
				if err != nil {
					bar.Stop()
					return err
				}
				bar.Finish()
				if !onlyHash {
					if !noPin {
						if err := s.Pin(pinUser, pinProg, c); err != nil {
							return err
						}
					}
					if err := s.ReleaseTempPin(c); err != nil {
						return err
					}
				}
				if quiet {
					fmt.Fprintln(cmd.OutOrStdout(), c)
				} else {
					fmt.Fprintf(cmd.OutOrStdout(), "added %s %s\n", c, p)
				}
			}
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the root CID")
	cmd.Flags().BoolVar(&preserve, "preserve-mode", false, "store UnixFS modes (as kubo's --preserve-mode)")
	cmd.Flags().StringVar(&selfRef, "self-ref", "", "self-reference placeholder to hash modulo (59 bytes)")
	cmd.Flags().BoolVar(&noPin, "no-pin", false, "do not pin the root (the next GC may remove it)")
	cmd.Flags().BoolVarP(&onlyHash, "only-hash", "n", false, "only compute the CID; store nothing")
	pinFlags(cmd, &pinUser, &pinProg)
	return cmd
}

func parseArg(arg string) (cid.Cid, string, error) {
	return storefs.ParsePath(arg)
}

func catCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cat CID[/PATH]",
		Short: "Write a file's bytes (hash-checked) to stdout",
		Args:  cobra.ExactArgs(1),
		RunE: withPath(func(cmd *cobra.Command, s *storefs.Store, c cid.Cid, p string, args []string) error {
			return s.Cat(cmd.Context(), c, p, cmd.OutOrStdout())
		}),
	}
}

func lsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "ls CID[/PATH]",
		Short: "List a directory: mode, size, CID, name",
		Args:  cobra.ExactArgs(1),
		RunE: withPath(func(cmd *cobra.Command, s *storefs.Store, c cid.Cid, p string, args []string) error {
			ents, err := s.List(cmd.Context(), c, p)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 1, ' ', 0)
			for _, e := range ents {
				name := e.Name
				switch e.Kind {
				case storefs.KindDir:
					name += "/"
				case storefs.KindSymlink:
					name += " -> " + e.Target
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", e.Kind, modeString(e), e.Size, e.CID, name)
			}
			return tw.Flush()
		}),
	}
}

func modeString(e storefs.Entry) string {
	if e.Mode == 0 {
		return "-"
	}
	return fmt.Sprintf("%04o", uint32(e.Mode.Perm()))
}

func getCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get CID[/PATH] DEST",
		Short: "Write a tree to DEST (modes, symlinks, self-references resolved)",
		Args:  cobra.ExactArgs(2),
		RunE: withPath(func(cmd *cobra.Command, s *storefs.Store, c cid.Cid, p string, args []string) error {
			if p != "" {
				nd, err := s.Resolve(cmd.Context(), c, p)
				if err != nil {
					return err
				}
				// Self-references resolve to the root named in the argument.
				return s.ExportNode(cmd.Context(), nd, c, args[1])
			}
			return s.Export(cmd.Context(), c, args[1])
		}),
	}
}

func pinFlags(cmd *cobra.Command, u, p *string) {
	cmd.Flags().StringVar(u, "user", "", "pin owner (default: current user)")
	cmd.Flags().StringVar(p, "prog", "store-add", "pin program name")
}

func pinAddCmd() *cobra.Command {
	return pinChangeCmd("add CID...", "Pin roots (their whole closure must be present)", "pinned",
		func(s *storefs.Store, user, prog string, c cid.Cid, rest string) error {
			if rest != "" {
				return fmt.Errorf("pin add %s/%s: pin a CID, not a path inside one", c, rest)
			}
			if _, err := s.Closure(c); err != nil {
				return fmt.Errorf("pin add %s: incomplete content: %w", c, err)
			}
			return s.Pin(user, prog, c)
		})
}

func pinRmCmd() *cobra.Command {
	return pinChangeCmd("rm CID...", "Remove pins", "unpinned",
		func(s *storefs.Store, user, prog string, c cid.Cid, _ string) error {
			return s.Unpin(user, prog, c)
		})
}

// pinChangeCmd is pin add and pin rm: every argument is parsed before any
// pin changes, so a malformed CID among several changes nothing.
func pinChangeCmd(use, short, done string, apply func(s *storefs.Store, user, prog string, c cid.Cid, rest string) error) *cobra.Command {
	var u, p string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			type target struct {
				c    cid.Cid
				rest string
			}
			targets := make([]target, len(args))
			for i, a := range args {
				c, rest, err := parseArg(a)
				if err != nil {
					return err
				}
				targets[i] = target{c, rest}
			}
			s, err := openStore(cmd)
			if err != nil {
				return err
			}
			defer s.Close()
			if u == "" {
				u = storefs.CurrentUser()
			}
			for _, t := range targets {
				if err := apply(s, u, p, t.c, t.rest); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s for %s/%s\n", done, t.c, u, p)
			}
			return nil
		},
	}
	pinFlags(cmd, &u, &p)
	return cmd
}

func pinLsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "ls",
		Short: "List pins: kind, owner, CID, pin file",
		Args:  cobra.NoArgs,
		RunE: withStore(func(cmd *cobra.Command, s *storefs.Store, args []string) error {
			pins, err := s.ListPins()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 1, ' ', 0)
			for _, p := range pins {
				c := "(dangling)"
				if p.CID.Defined() {
					c = p.CID.String()
				}
				owner := p.User + "/" + p.Prog
				if p.Kind == "temp" {
					owner = "pid " + p.Prog
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Kind, owner, c, p.Path)
			}
			return tw.Flush()
		}),
	}
}

func gcCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "gc",
		Short: "Remove dangling pins and every block no live pin reaches",
		Args:  cobra.NoArgs,
		RunE: withStore(func(cmd *cobra.Command, s *storefs.Store, args []string) error {
			r, err := s.GC(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "roots %d, kept %d blocks, removed %d blocks (%d bytes), dangling pins removed %d\n",
				r.Roots, r.Kept, r.Removed, r.FreedBytes, r.DanglingPins)
			if r.MissingBlocks > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %d blocks reachable from pins are missing\n", r.MissingBlocks)
			}
			return nil
		}),
	}
}

func verifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Rehash every block; list the bad ones (exit status 1 if any)",
		Args:  cobra.NoArgs,
		RunE: withStore(func(cmd *cobra.Command, s *storefs.Store, args []string) error {
			bad, n, err := s.Verify(cmd.Context())
			if err != nil {
				return err
			}
			for _, b := range bad {
				fmt.Fprintf(cmd.OutOrStdout(), "bad %s: %v\n", b.CID, b.Err)
			}
			if len(bad) > 0 {
				return fmt.Errorf("verify: %d of %d blocks are bad", len(bad), n)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "verified %d blocks: all good\n", n)
			return nil
		}),
	}
}

// treeSize is the size of the regular files under path (what an add reads), for progress.
func treeSize(path string) int64 {
	var total int64
	_ = filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	return total
}

func mountCmd() *cobra.Command {
	var allowOther, debug bool
	cmd := &cobra.Command{
		Use:   "mount [DIR]",
		Short: "Mount the read-only view (DIR/{cid}/{path}); runs until SIGINT/SIGTERM",
		Args:  cobra.MaximumNArgs(1),
		RunE: withStore(func(cmd *cobra.Command, s *storefs.Store, args []string) error {
			dir := s.MountDir()
			if len(args) == 1 {
				dir = args[0]
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("mount: %w", err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			srv, err := fusefs.Mount(s, dir, fusefs.Options{AllowOther: allowOther, Debug: debug})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "store mounted at %s (Ctrl-C to unmount)\n", dir)
			served := make(chan struct{})
			go func() { srv.Wait(); close(served) }()
			select {
			case <-ctx.Done():
			case <-served: // unmounted from outside (fusermount3 -u)
				return nil
			}
			if err := srv.Unmount(); err != nil {
				return fmt.Errorf("unmount %s: %w", dir, err)
			}
			<-served
			fmt.Fprintf(cmd.ErrOrStderr(), "unmounted %s\n", dir)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&allowOther, "allow-other", false, "let other users read the mount")
	cmd.Flags().BoolVar(&debug, "debug", false, "log FUSE requests")
	return cmd
}

func exportCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "export CID",
		Short: "Write the closure of CID as a CARv1 to stdout (or -o FILE)",
		Args:  cobra.ExactArgs(1),
		RunE: withPath(func(cmd *cobra.Command, s *storefs.Store, c cid.Cid, rest string, args []string) error {
			if rest != "" {
				return fmt.Errorf("export %q: give a CID, not a path inside one", args[0])
			}
			if out == "" || out == "-" {
				return s.ExportCAR(cmd.Context(), c, cmd.OutOrStdout())
			}
			// FILE appears only complete (internal/atomicfile): an interrupted
			// export leaves no truncated CAR under its name.
			w, err := atomicfile.NewWriter(out, 0o644)
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			defer w.Abort()
			if err := s.ExportCAR(cmd.Context(), c, w); err != nil {
				return err
			}
			return w.Commit()
		}),
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to FILE instead of stdout")
	return cmd
}

func importCmd() *cobra.Command {
	var u, p string
	var noPin bool
	cmd := &cobra.Command{
		Use:   "import FILE.car|-",
		Short: "Import a CAR (v1 or v2); every block is checked, nothing is stored if one is bad",
		Args:  cobra.ExactArgs(1),
		RunE: withStore(func(cmd *cobra.Command, s *storefs.Store, args []string) error {
			var r io.Reader = cmd.InOrStdin()
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return fmt.Errorf("import: %w", err)
				}
				defer f.Close()
				r = f
			}
			roots, err := s.ImportCAR(cmd.Context(), r)
			if err != nil {
				return err
			}
			if u == "" {
				u = storefs.CurrentUser()
			}
			for _, c := range roots {
				if !noPin {
					if ok, _ := s.HasBlock(c); ok {
						if err := s.Pin(u, p, c); err != nil {
							return err
						}
					}
				}
				_ = s.ReleaseTempPin(c)
				fmt.Fprintf(cmd.OutOrStdout(), "imported %s\n", c)
			}
			return nil
		}),
	}
	pinFlags(cmd, &u, &p)
	cmd.Flags().BoolVar(&noPin, "no-pin", false, "do not pin the roots")
	return cmd
}

func statCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "stat CID[/PATH]",
		Short: "Show type, size, mode and closure size",
		Args:  cobra.ExactArgs(1),
		RunE: withPath(func(cmd *cobra.Command, s *storefs.Store, c cid.Cid, p string, args []string) error {
			e, err := s.Stat(cmd.Context(), c, p)
			if err != nil {
				return err
			}
			cl, err := s.Closure(e.CID)
			if err != nil {
				return err
			}
			var total int64
			for _, b := range cl {
				if fi, err := os.Stat(s.BlockPath(b)); err == nil {
					total += fi.Size()
				}
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "CID:    %s\nType:   %s\nSize:   %d\nMode:   %s\nBlocks: %d\nBytes:  %d\n",
				e.CID, e.Kind, e.Size, modeString(e), len(cl), total)
			if e.Kind == storefs.KindSymlink {
				fmt.Fprintf(w, "Target: %s\n", e.Target)
			}
			return nil
		}),
	}
}
