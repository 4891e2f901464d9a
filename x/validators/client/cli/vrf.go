package cli

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cosmos/cosmos-sdk/client/flags"

	"github.com/buildchain/buildchain/crypto/vrf"
)

func homeOf(cmd *cobra.Command, defaultHome string) string {
	if h, _ := cmd.Flags().GetString(flags.FlagHome); h != "" {
		return h
	}
	if f := cmd.Root().PersistentFlags().Lookup(flags.FlagHome); f != nil && f.Value.String() != "" {
		return f.Value.String()
	}
	return defaultHome
}

// NewVrfCmd returns `vrf init|show`.
func NewVrfCmd(defaultHome string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vrf",
		Short: "Manage this node's VRF key (" + vrf.SuiteName + ") for the randomness beacon",
	}
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Create the VRF key in <home>/" + vrf.DefaultKeyFile + " (an existing key is kept)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := vrf.KeyFilePath(homeOf(cmd, defaultHome))
			k, created, err := vrf.LoadOrGenerateKeyFile(path)
			if err != nil {
				return err
			}
			state := "existing"
			if created {
				state = "created"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s VRF key %s\npublic key (base64): %s\n", state, path, base64.StdEncoding.EncodeToString(k.Public()))
			return nil
		},
	}
	showCmd := &cobra.Command{
		Use:   "show",
		Short: "Print the VRF public key (base64, as `tx validators register-vrf-key` takes it; --hex for hex)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := vrf.LoadKeyFile(vrf.KeyFilePath(homeOf(cmd, defaultHome)))
			if err != nil {
				return err
			}
			if asHex, _ := cmd.Flags().GetBool("hex"); asHex {
				fmt.Fprintln(cmd.OutOrStdout(), hex.EncodeToString(k.Public()))
				return nil
			}
			fmt.Fprintln(cmd.OutOrStdout(), base64.StdEncoding.EncodeToString(k.Public()))
			return nil
		},
	}
	showCmd.Flags().Bool("hex", false, "print hex instead of base64")
	for _, c := range []*cobra.Command{initCmd, showCmd} {
		c.Flags().String(flags.FlagHome, "", "node home directory (default "+defaultHome+")")
		cmd.AddCommand(c)
	}
	return cmd
}

// AttachToInit makes `buildchaind init` also create the node's VRF key, so every node home
// has one before the node first proposes a block.
func AttachToInit(initCmd *cobra.Command, defaultHome string) {
	prev := initCmd.PostRunE
	initCmd.PostRunE = func(cmd *cobra.Command, args []string) error {
		if prev != nil {
			if err := prev(cmd, args); err != nil {
				return err
			}
		}
		_, _, err := vrf.LoadOrGenerateKeyFile(vrf.KeyFilePath(homeOf(cmd, defaultHome)))
		return err
	}
}
