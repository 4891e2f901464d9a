package cli

import (
	"encoding/hex"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/flags"
	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/internal/saltfile"
	"github.com/buildchain/buildchain/x/internal/txargs"
	"github.com/buildchain/buildchain/x/market/tally"
	"github.com/buildchain/buildchain/x/market/types"
)

const (
	flagSalt    = "salt"
	flagOutcome = "outcome"
)

// GetTxCmd returns the market tx commands written by hand (autocli adds the others).
func GetTxCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:                        types.ModuleName,
		Short:                      "Prediction market transactions",
		DisableFlagParsing:         true,
		SuggestionsMinimumDistance: 2,
		RunE:                       client.ValidateCmd,
	}
	cmd.AddCommand(CommitCmd(), RevealCmd())
	return cmd
}

// CommitCmd commits to a hidden outcome with a stake.
func CommitCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "commit [market-id] [outcome] [stake]",
		Short: "Commit a hidden prediction with a stake; the salt is kept locally for `reveal`",
		Long: `Commit a hidden prediction on a market. The outcome is one of NON_DETERMINISM (nd),
MISBEHAVIOUR_CLAIM (claim), MISBEHAVIOUR_REPORT (report). A random 32-byte salt is drawn and the
commit hash sha256(outcome ‖ len(salt) ‖ salt ‖ sender) is sent; outcome and salt are saved under
<home>/market-salts/<chain-id>/ BEFORE broadcasting so that "reveal" can open the commit later.`,
		Example: "buildchaind tx market commit 1 claim 50000000ubct --from bob",
		Args:    cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			clientCtx, from, id, err := txargs.ContextID(cmd, "market id", args[0])
			if err != nil {
				return err
			}
			outcome, err := types.ParseOutcome(args[1])
			if err != nil {
				return err
			}
			stake, err := sdk.ParseCoinNormalized(args[2])
			if err != nil {
				return fmt.Errorf("stake %q: %w", args[2], err)
			}
			salt, err := saltfile.NewSalt()
			if err != nil {
				return err
			}
			hash, err := tally.CommitHash(tally.Outcome(outcome), salt, from)
			if err != nil {
				return err
			}
			msg := &types.MsgCommitPrediction{Predictor: from.String(), MarketId: id, CommitHash: hash, Stake: stake}
			if err := txargs.Check(msg); err != nil {
				return err
			}
			if !clientCtx.GenerateOnly {
				salts, err := OpenSalts(clientCtx.HomeDir, clientCtx.ChainID)
				if err != nil {
					return err
				}
				if err := salts.Write(SaltRecord{ChainID: clientCtx.ChainID, MarketID: id, Predictor: from.String(),
					Outcome: outcome.String(), Salt: hex.EncodeToString(salt), CommitHash: hex.EncodeToString(hash)}); err != nil {
					return err
				}
				cmd.PrintErrf("salt saved to %s\n", salts.Path(id, from.String()))
			}
			return txargs.Send(cmd, clientCtx, msg)
		},
	}
	flags.AddTxFlagsToCmd(cmd)
	return cmd
}

// RevealCmd reveals a commit with the locally kept salt (or --salt and --outcome).
func RevealCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "reveal [market-id]",
		Short:   "Reveal the prediction committed with `commit` (after commit_end, until reveal_end)",
		Example: "buildchaind tx market reveal 1 --from bob",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			clientCtx, from, id, err := txargs.ContextID(cmd, "market id", args[0])
			if err != nil {
				return err
			}
			saltHex, _ := cmd.Flags().GetString(flagSalt)
			outcomeStr, _ := cmd.Flags().GetString(flagOutcome)
			var salt []byte
			if saltHex == "" || outcomeStr == "" {
				salts, err := OpenSalts(clientCtx.HomeDir, clientCtx.ChainID)
				if err != nil {
					return err
				}
				rec, s, err := salts.Read(id, from.String())
				if err != nil {
					return err
				}
				salt = s
				if outcomeStr == "" {
					outcomeStr = rec.Outcome
				}
			}
			if saltHex != "" {
				if salt, err = hex.DecodeString(saltHex); err != nil {
					return fmt.Errorf("--salt must be hex: %w", err)
				}
			}
			outcome, err := types.ParseOutcome(outcomeStr)
			if err != nil {
				return err
			}
			return txargs.Send(cmd, clientCtx, &types.MsgRevealPrediction{Predictor: from.String(), MarketId: id, Outcome: outcome, Salt: salt})
		},
	}
	cmd.Flags().String(flagSalt, "", "hex salt (default: the one saved by commit)")
	cmd.Flags().String(flagOutcome, "", "outcome (default: the one saved by commit)")
	flags.AddTxFlagsToCmd(cmd)
	return cmd
}
