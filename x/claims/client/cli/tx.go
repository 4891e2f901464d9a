package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/flags"
	sdk "github.com/cosmos/cosmos-sdk/types"

	"github.com/buildchain/buildchain/internal/saltfile"
	"github.com/buildchain/buildchain/x/claims/types"
	"github.com/buildchain/buildchain/x/internal/txargs"
)

const (
	flagSystem  = "system"
	flagDeposit = "deposit"
)

// PublishedDir and CommittedDir are where, under the client home, the openings of the
// claims this account submitted and of the results it committed are kept. PublishedDir is
// the directory `buildchaind publish` and the node's sidecar use (node/nodecli), so `node
// run` reveals a claim submitted here too.
func PublishedDir(home string) string { return filepath.Join(home, "sidecar", "published") }

// CommittedDir: see PublishedDir.
func CommittedDir(home string) string { return filepath.Join(home, "sidecar", "committed") }

// GetTxCmd returns the claims tx commands written by hand (autocli adds the others).
func GetTxCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:                        types.ModuleName,
		Short:                      "Build claims transactions",
		DisableFlagParsing:         true,
		SuggestionsMinimumDistance: 2,
		RunE:                       client.ValidateCmd,
	}
	cmd.AddCommand(SubmitCmd(), RevealClaimCmd(), CommitCmd(), RevealCmd())
	return cmd
}

// keep stores an opening under dir before its commitment is broadcast (not with
// --generate-only: nothing is sent, and the signer keeps the secret).
func keep(cmd *cobra.Command, clientCtx client.Context, dir string, commitment []byte, o saltfile.Opening) error {
	if clientCtx.GenerateOnly {
		return nil
	}
	salts, err := saltfile.Open(dir)
	if err != nil {
		return err
	}
	if err := salts.PutOpening(commitment, o); err != nil {
		return err
	}
	cmd.PrintErrf("salt saved to %s\n", dir)
	return nil
}

// SubmitCmd submits a blind claim.
func SubmitCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "submit [derivation-cid] [output-cid]",
		Short: "Claim blind that output-cid is the build of derivation-cid; pays claim_fee and locks --deposit",
		Long: `Submit a blind claim (x/claims/README.md §Blind rounds): the claim carries a commitment to
output-cid and a random salt, never the output itself, so no builder can copy it. Output and salt
are saved under <home>/sidecar/published/ BEFORE broadcasting; once the claim's last round is
committed (the claim is REVEALING) open it with "reveal-claim" (or let "buildchaind node run"
reveal it). A claim not revealed before its reveal deadline is rejected and its deposit burned.`,
		Example: "buildchaind tx claims submit bagu...drv bafy...out --deposit 10000000ubct --system x86_64-linux --from alice",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			clientCtx, from, err := txargs.Context(cmd)
			if err != nil {
				return err
			}
			system, _ := cmd.Flags().GetString(flagSystem)
			depositStr, _ := cmd.Flags().GetString(flagDeposit)
			deposit, err := sdk.ParseCoinNormalized(depositStr)
			if err != nil {
				return fmt.Errorf("--deposit %q: %w", depositStr, err)
			}
			if _, err := types.ParseCID("output_cid", args[1], types.OutputCodecs...); err != nil {
				return err
			}
			salt, err := saltfile.NewSalt()
			if err != nil {
				return err
			}
			msg := &types.MsgSubmitClaim{Publisher: from.String(), DerivationCid: args[0], System: system, Deposit: deposit,
				OutputCommitment: types.ClaimCommitment(from.String(), args[0], args[1], salt)}
			if err := txargs.Check(msg); err != nil {
				return err
			}
			if err := keep(cmd, clientCtx, PublishedDir(clientCtx.HomeDir), msg.OutputCommitment,
				saltfile.Opening{Derivation: args[0], Output: args[1], Salt: salt}); err != nil {
				return err
			}
			return txargs.Send(cmd, clientCtx, msg)
		},
	}
	cmd.Flags().String(flagSystem, "x86_64-linux", "system the derivation builds on")
	cmd.Flags().String(flagDeposit, "", "deposit to lock (>= min_deposit), e.g. 10000000ubct")
	flags.AddTxFlagsToCmd(cmd)
	return cmd
}

// opening finds what opens commitment in dir.
func opening(dir string, commitment []byte, what string) (saltfile.Opening, error) {
	salts, err := saltfile.Open(dir)
	if err != nil {
		return saltfile.Opening{}, err
	}
	o, found, err := salts.GetOpening(commitment)
	if err != nil {
		return o, err
	}
	if !found {
		return o, fmt.Errorf("no salt for %s in %s: it was committed from another machine or home", what, dir)
	}
	return o, nil
}

func getClaim(cmd *cobra.Command, clientCtx client.Context, id uint64) (types.Claim, error) {
	res, err := types.NewQueryClient(clientCtx).Claim(cmd.Context(), &types.QueryClaimRequest{Id: id})
	if err != nil {
		return types.Claim{}, err
	}
	return res.Claim, nil
}

// RevealClaimCmd opens the --from publisher's commitment of a claim.
func RevealClaimCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "reveal-claim [claim-id]",
		Short:   "Reveal the output of a claim submitted with `submit` once it is REVEALING (the salt saved by submit opens it)",
		Example: "buildchaind tx claims reveal-claim 7 --from alice",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			clientCtx, from, id, err := txargs.ContextID(cmd, "claim id", args[0])
			if err != nil {
				return err
			}
			c, err := getClaim(cmd, clientCtx, id)
			if err != nil {
				return err
			}
			o, err := opening(PublishedDir(clientCtx.HomeDir), c.OutputCommitment, fmt.Sprintf("claim %d", id))
			if err != nil {
				return err
			}
			return txargs.Send(cmd, clientCtx, &types.MsgRevealClaim{Publisher: from.String(), ClaimId: id, OutputCid: o.Output, Salt: o.Salt})
		},
	}
	flags.AddTxFlagsToCmd(cmd)
	return cmd
}

// CommitCmd commits the --from validator to its result for a round.
func CommitCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "commit [claim-id] [round] [output-cid] [build-time-ms]",
		Short: "Commit the --from validator to the output it built for its round; the salt is kept for `reveal`",
		Long: `Commit the --from build validator to its result for its assigned round of a claim
(x/claims/README.md §Blind rounds): the commitment hashes output, build time and a random salt,
saved under <home>/sidecar/committed/ BEFORE broadcasting. Once the claim is REVEALING, open it
with "reveal"; a commitment not opened by the reveal deadline counts as a missed deadline.
(The node's sidecar does all this itself.)`,
		Example: "buildchaind tx claims commit 7 1 bafy...out 4321 --from bob",
		Args:    cobra.ExactArgs(4),
		RunE: func(cmd *cobra.Command, args []string) error {
			clientCtx, from, id, err := txargs.ContextID(cmd, "claim id", args[0])
			if err != nil {
				return err
			}
			round, err := txargs.Round(args[1])
			if err != nil {
				return err
			}
			if _, err := types.ParseCID("output_cid", args[2], types.OutputCodecs...); err != nil {
				return err
			}
			ms, err := txargs.Uint("build time", args[3])
			if err != nil {
				return err
			}
			salt, err := saltfile.NewSalt()
			if err != nil {
				return err
			}
			msg := &types.MsgCommitBuild{Validator: from.String(), ClaimId: id, Round: round,
				Commitment: types.BuildCommitment(from.String(), id, round, args[2], ms, salt)}
			if err := txargs.Check(msg); err != nil {
				return err
			}
			if err := keep(cmd, clientCtx, CommittedDir(clientCtx.HomeDir), msg.Commitment,
				saltfile.Opening{Output: args[2], BuildTimeMs: ms, Salt: salt}); err != nil {
				return err
			}
			return txargs.Send(cmd, clientCtx, msg)
		},
	}
	flags.AddTxFlagsToCmd(cmd)
	return cmd
}

// RevealCmd opens the --from validator's commitment for a round.
func RevealCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "reveal [claim-id] [round]",
		Short:   "Reveal the result committed with `commit` once the claim is REVEALING",
		Example: "buildchaind tx claims reveal 7 1 --from bob",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			clientCtx, from, id, err := txargs.ContextID(cmd, "claim id", args[0])
			if err != nil {
				return err
			}
			round, err := txargs.Round(args[1])
			if err != nil {
				return err
			}
			c, err := getClaim(cmd, clientCtx, id)
			if err != nil {
				return err
			}
			var commitment []byte
			for _, a := range c.Assignments {
				if a.Validator == from.String() && a.Round == round && len(a.Commitment) > 0 {
					commitment = a.Commitment
				}
			}
			if commitment == nil {
				return fmt.Errorf("%s has no commitment in round %d of claim %d", from, round, id)
			}
			o, err := opening(CommittedDir(clientCtx.HomeDir), commitment, fmt.Sprintf("round %d of claim %d", round, id))
			if err != nil {
				return err
			}
			return txargs.Send(cmd, clientCtx, &types.MsgRevealBuild{Validator: from.String(), ClaimId: id, Round: round,
				OutputCid: o.Output, BuildTimeMs: o.BuildTimeMs, Salt: o.Salt})
		},
	}
	flags.AddTxFlagsToCmd(cmd)
	return cmd
}
