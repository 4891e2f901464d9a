package proposal

import (
	"context"

	errorsmod "cosmossdk.io/errors"
	storetypes "cosmossdk.io/store/types"

	sdk "github.com/cosmos/cosmos-sdk/types"
	"github.com/cosmos/cosmos-sdk/types/mempool"

	"github.com/buildchain/buildchain/x/validators/keeper"
	"github.com/buildchain/buildchain/x/validators/types"
)

// AnteHandler wraps the app's ante handler so that beacon transactions (one MsgBeacon, no
// signature, no fee) run only where ProcessProposal vouched for them: in FinalizeBlock. A
// transaction holding a MsgBeacon is refused in CheckTx, ReCheckTx and simulation (so none
// reaches a mempool, and `tx simulate` gives a clear error rather than a signature error);
// in FinalizeBlock it skips the fee and signature decorators, which cannot apply to it, and
// gets a gas meter of keeper.BeaconGasLimit. Every other transaction goes to next.
func AnteHandler(next sdk.AnteHandler) sdk.AnteHandler {
	return func(ctx sdk.Context, tx sdk.Tx, simulate bool) (sdk.Context, error) {
		if !holdsBeacon(tx) {
			return next(ctx, tx, simulate)
		}
		if simulate || ctx.ExecMode() != sdk.ExecModeFinalize {
			return ctx, types.ErrBeaconNotSendable
		}
		// ProcessProposal already refused any block whose beacon is not its first
		// transaction in canonical form; checking the form again here costs one re-encoding
		// and keeps an unsigned transaction from running on anything weaker.
		if _, _, err := keeper.DecodeBeacon(ctx.TxBytes()); err != nil {
			return ctx, errorsmod.Wrap(err, "unsigned beacon transaction")
		}
		return ctx.WithGasMeter(storetypes.NewGasMeter(keeper.BeaconGasLimit)), nil
	}
}

func holdsBeacon(tx sdk.Tx) bool {
	for _, m := range tx.GetMsgs() {
		if _, ok := m.(*types.MsgBeacon); ok {
			return true
		}
	}
	return false
}

// Mempool wraps an app-side mempool so that beacons never enter it and removing one after
// FinalizeBlock ran it is not an error: baseapp removes every executed transaction from the
// mempool and fails the transaction on any error but ErrTxNotFound, and the SDK's sender-nonce
// and priority mempools refuse a transaction without signatures. The NoOpMempool (the
// default, when app.toml's mempool.max-txs is negative) is returned as is: baseapp's
// default proposal handler recognises it by type.
func Mempool(inner mempool.Mempool) mempool.Mempool {
	if inner == nil {
		return nil
	}
	if _, ok := inner.(mempool.NoOpMempool); ok {
		return inner
	}
	return beaconMempool{inner}
}

type beaconMempool struct{ mempool.Mempool }

func (m beaconMempool) Insert(ctx context.Context, tx sdk.Tx) error {
	if holdsBeacon(tx) {
		return types.ErrBeaconNotSendable
	}
	return m.Mempool.Insert(ctx, tx)
}

func (m beaconMempool) Remove(tx sdk.Tx) error {
	if holdsBeacon(tx) {
		return mempool.ErrTxNotFound
	}
	return m.Mempool.Remove(tx)
}
