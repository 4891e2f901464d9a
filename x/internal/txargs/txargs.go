// Package txargs is what the hand-written tx commands of the modules (x/claims/client/cli,
// x/market/client/cli) share: the client context with its required --from, the parsing of
// their positional arguments with errors that name the argument, and the last step, validate
// then broadcast (or print with --generate-only).
package txargs

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/cosmos/cosmos-sdk/client"
	"github.com/cosmos/cosmos-sdk/client/tx"
	sdk "github.com/cosmos/cosmos-sdk/types"
)

// Context is cmd's client tx context and its --from address, which every command needs.
func Context(cmd *cobra.Command) (client.Context, sdk.AccAddress, error) {
	clientCtx, err := client.GetClientTxContext(cmd)
	if err != nil {
		return clientCtx, nil, err
	}
	from := clientCtx.GetFromAddress()
	if from.Empty() {
		return clientCtx, nil, fmt.Errorf("--from is required")
	}
	return clientCtx, from, nil
}

// ContextID is Context and ID(what, s) together: what a command about one claim or market
// starts with.
func ContextID(cmd *cobra.Command, what, s string) (client.Context, sdk.AccAddress, uint64, error) {
	clientCtx, from, err := Context(cmd)
	if err != nil {
		return clientCtx, from, 0, err
	}
	id, err := ID(what, s)
	return clientCtx, from, id, err
}

// ID parses a positive id (a claim's, a market's); what names it in the error.
func ID(what, s string) (uint64, error) {
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == 0 {
		return 0, fmt.Errorf("%s %q must be a positive integer", what, s)
	}
	return id, nil
}

// Round parses a claim's round number.
func Round(s string) (uint32, error) {
	r, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("round %q: %w", s, err)
	}
	return uint32(r), nil
}

// Uint parses an unsigned number (a build time in ms); what names it in the error.
func Uint(what, s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s %q: %w", what, s, err)
	}
	return n, nil
}

// Send checks msg (its ValidateBasic, before anything is kept or sent) and broadcasts it, or
// prints it with --generate-only.
func Send(cmd *cobra.Command, clientCtx client.Context, msg sdk.Msg) error {
	if err := Check(msg); err != nil {
		return err
	}
	return tx.GenerateOrBroadcastTxCLI(clientCtx, cmd.Flags(), msg)
}

// Check runs msg's ValidateBasic, if it has one.
func Check(msg sdk.Msg) error {
	if v, ok := msg.(sdk.HasValidateBasic); ok {
		return v.ValidateBasic()
	}
	return nil
}
